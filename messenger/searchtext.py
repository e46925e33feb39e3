"""Words for search: folding, tokenising, the stored tsvector, the tsquery and highlights.

PostgreSQL's text-search parser and `lower()` follow the database's locale (a `C` database
lower-cases ASCII only and sees CJK sentences as one word), so the words are made here, in
Python, the same way for the index and for the query, whatever the server:

- a word is a run of letters, digits and combining marks (Unicode categories L, N, M);
- folding: NFKD (full-width and compatibility forms become plain), combining accents dropped
  (é→e, ü→u, Arabic harakat, Hebrew points; the kana voicing marks stay, が is not か),
  then case folding (Straße→strasse, İ→i̇, Σ→σ);
- unspaced scripts (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) have no word breaks,
  so every run of them becomes overlapping bigrams plus its last character: 東京都 →
  東京 京都 都. A query run becomes its bigrams in a phrase, so any substring of at least
  one character matches;
- the stored form is a tsvector literal ('word':position ...), cast by PostgreSQL without its
  parser; the query is a tsquery literal built from the same tokens, each one quoted, so user
  text is never parsed as tsquery syntax.

This module is pure (no I/O) and sits below `messages` (which indexes on write) and `search`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import regex

# A word: letters, digits and combining marks. Underscores and punctuation separate words.
_WORD = regex.compile(r"[\p{L}\p{N}\p{M}]+")
# The send path indexes mostly ASCII text: the stdlib engine is the faster one there.
_ASCII_WORD = re.compile(r"[a-z0-9]+")
# One character of an unspaced script with the marks that follow it (a voiced kana after NFKD).
_UNSPACED_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\u30fc\u3005"
_UNSPACED_UNIT = regex.compile(rf"[{_UNSPACED_CLASS}]\p{{M}}*")
_UNSPACED_RUN = regex.compile(rf"(?:[{_UNSPACED_CLASS}]\p{{M}}*)+")
_HAS_UNSPACED = regex.compile(rf"[{_UNSPACED_CLASS}]")
# Nonspacing marks except the kana voicing marks (U+3099, U+309A).
_ACCENTS = regex.compile(r"[\p{Mn}--[\u3099\u309a]]", regex.V1)
_QUOTED = regex.compile(r'"([^"]*)"')

# PostgreSQL limits a lexeme to 2047 bytes and positions to 16383; a word is cut to this many
# characters on both sides (a longer query word still matches the same cut prefix).
MAX_WORD = 100
MAX_POSITION = 16383
# The query's tokens: more cannot be meant, and each costs the index a posting-list lookup.
MAX_QUERY_TOKENS = 32


def fold(text: str) -> str:
    """Accent- and case-folded text (lengths may change: ß→ss)."""
    if text.isascii():
        return text.lower()
    return _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()


def _word_tokens(word: str, *, query: bool = False) -> list[str]:
    """The tokens of one folded word: itself, or its pieces with unspaced runs as bigrams.

    The index adds each run's last character on its own, so that a query of one character
    finds it; a query run of two or more is its bigrams only."""
    if not _HAS_UNSPACED.search(word):
        return [word[:MAX_WORD]]
    tokens: list[str] = []
    at = 0
    for run in _UNSPACED_RUN.finditer(word):
        if run.start() > at:
            tokens.append(word[at : run.start()][:MAX_WORD])
        units = _UNSPACED_UNIT.findall(run.group())
        tokens.extend(units[i] + units[i + 1] for i in range(len(units) - 1))
        if not query or len(units) == 1:
            tokens.append(units[-1])
        at = run.end()
    if at < len(word):
        tokens.append(word[at:][:MAX_WORD])
    return tokens


def tokens(text: str) -> list[str]:
    """The index tokens of a text, in order."""
    folded = fold(text)
    if folded.isascii():
        return [w[:MAX_WORD] for w in _ASCII_WORD.findall(folded)]
    out: list[str] = []
    for word in _WORD.findall(folded):
        out.extend(_word_tokens(word))
    return out


def _quote(token: str) -> str:
    # Tokens hold only letters, digits and marks, never a quote or backslash; escaping anyway
    # keeps the literal valid should the word pattern ever change.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def index_vector(text: str | None) -> str | None:
    """The tsvector literal stored with a message (None without text: nothing to find).

    On the send path: ASCII words need no quoting (they hold no quote or backslash)."""
    if not text:
        return None
    toks = tokens(text)
    if not toks:
        return None
    if len(toks) > MAX_POSITION:
        toks = toks[:MAX_POSITION]
    if text.isascii():
        return " ".join([f"'{t}':{i}" for i, t in enumerate(toks, start=1)])
    return " ".join([f"{_quote(t)}:{i}" for i, t in enumerate(toks, start=1)])


class QueryError(ValueError):
    """The query has nothing to search for, or too much."""


@dataclass(frozen=True)
class Term:
    """One query token: matched as a prefix, or exactly (words inside a phrase but its last)."""

    token: str
    prefix: bool


@dataclass(frozen=True)
class Query:
    tsquery: str
    terms: tuple[Term, ...]


def _group(words: list[str]) -> list[Term]:
    """Tokens of words that must follow each other; only the very last one is a prefix
    (東京都 → 東京 <-> 京都:*; a lone 東 is a prefix of the bigram it starts)."""
    toks = [t for word in words for t in _word_tokens(word, query=True)]
    return [Term(t, prefix=i == len(toks) - 1) for i, t in enumerate(toks)]


def parse(q: str) -> Query:
    """Prefix words and "quoted phrases", all required (AND). QueryError if nothing is left."""
    groups: list[list[Term]] = []
    bare: list[str] = []
    at = 0
    for match in _QUOTED.finditer(q):
        bare.append(q[at : match.start()])
        words = _WORD.findall(fold(match.group(1)))
        if words:
            groups.append(_group(words))
        at = match.end()
    bare.append(q[at:])  # a lone quote is left here and ignored like any punctuation
    for chunk in bare:
        for word in _WORD.findall(fold(chunk)):
            groups.append(_group([word]))
    terms = [t for g in groups for t in g]
    if not terms:
        raise QueryError("The query has no words to search for")
    if len(terms) > MAX_QUERY_TOKENS:
        raise QueryError(f"The query has more than {MAX_QUERY_TOKENS} words")
    parts = []
    for group in groups:
        parts.append(" <-> ".join(_quote(t.token) + (":*" if t.prefix else "") for t in group))
    tsquery = " & ".join(f"({p})" if len(group) > 1 else p for p, group in zip(parts, groups, strict=True))
    return Query(tsquery, tuple(terms))


def prefix_query(q: str) -> str:
    """The tsquery for word prefixes of plain names (the chat-list filter): every word of `q`
    must start a word. Names are folded in SQL (unaccent, lower), so no bigrams here."""
    words = [w[:MAX_WORD] for w in _WORD.findall(fold(q))]
    if not words:
        raise QueryError("The query has no words to search for")
    if len(words) > MAX_QUERY_TOKENS:
        raise QueryError(f"The query has more than {MAX_QUERY_TOKENS} words")
    return " & ".join(_quote(w) + ":*" for w in words)


def highlights(text: str, terms: tuple[Term, ...]) -> list[tuple[int, int]]:
    """Code point spans [start, end) of `text` that matched: one per matched word or prefix
    (for unspaced scripts, per matched run of characters)."""
    # Fold character by character, remembering where each folded character came from, so the
    # spans found in the folded text map back to the text as sent.
    origin: Sequence[int]
    if text.isascii():  # folding keeps every position: no map needed
        folded, origin = text.lower(), range(len(text))
    else:
        parts: list[str] = []
        positions: list[int] = []
        for i, ch in enumerate(text):
            f = fold(ch)
            parts.append(f)
            positions.extend([i] * len(f))
        folded, origin = "".join(parts), positions
    spans: list[tuple[int, int]] = []
    wanted_words = [t for t in terms if not _HAS_UNSPACED.search(t.token)]
    wanted_runs = _unspaced_needles(terms)
    for word in _WORD.finditer(folded):
        w = word.group()
        for piece in _pieces(w, word.start()):
            start, body, unspaced = piece
            if unspaced:
                for needle in wanted_runs:
                    at = body.find(needle)
                    while at >= 0:
                        spans.append(_span(origin, text, start + at, start + at + len(needle)))
                        at = body.find(needle, at + len(needle))
                continue
            cut = body[:MAX_WORD]
            best = 0
            for t in wanted_words:
                if (t.prefix and cut.startswith(t.token)) or cut == t.token:
                    best = max(best, len(t.token) if t.prefix else len(body))
            if best:
                spans.append(_span(origin, text, start, start + best))
    return _merge(spans)


def _unspaced_needles(terms: tuple[Term, ...]) -> list[str]:
    """The unspaced substrings a query asks for: consecutive bigram tokens joined back."""
    needles: list[str] = []
    current = ""
    for t in terms:
        if not _HAS_UNSPACED.search(t.token):
            if current:
                needles.append(current)
            current = ""
            continue
        units = _UNSPACED_UNIT.findall(t.token)
        if current and units and current.endswith(units[0]) and len(units) == 2:
            current += units[1]
        else:
            if current:
                needles.append(current)
            current = t.token
        if t.prefix:
            needles.append(current)
            current = ""
    if current:
        needles.append(current)
    return needles


def _pieces(word: str, offset: int) -> list[tuple[int, str, bool]]:
    """A folded word split into (start, text, is_unspaced) pieces."""
    if not _HAS_UNSPACED.search(word):
        return [(offset, word, False)]
    out: list[tuple[int, str, bool]] = []
    at = 0
    for run in _UNSPACED_RUN.finditer(word):
        if run.start() > at:
            out.append((offset + at, word[at : run.start()], False))
        out.append((offset + run.start(), run.group(), True))
        at = run.end()
    if at < len(word):
        out.append((offset + at, word[at:], False))
    return out


def _span(origin: Sequence[int], text: str, start: int, end: int) -> tuple[int, int]:
    """Folded [start, end) to the text's code points; accents that folding dropped right after
    the span (a decomposed é is e + U+0301) belong to it."""
    first, last = origin[start], origin[end - 1] + 1
    while last < len(text) and unicodedata.category(text[last]) == "Mn" and not fold(text[last]):
        last += 1
    return first, last


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
