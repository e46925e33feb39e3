"""The words of search, without a database: folding, bigrams, the tsquery text, highlights."""

from __future__ import annotations

import pytest

from messenger.searchtext import QueryError, highlights, index_vector, parse, tokens


def test_accents_case_and_compatibility_forms_fold_away() -> None:
    assert tokens("Grüße aus KÖLN, ｆｕｌｌ-width") == ["grusse", "aus", "koln", "full", "width"]


def test_decomposed_and_composed_accents_index_the_same() -> None:
    assert tokens("cafe\u0301") == tokens("caf\u00e9") == ["cafe"]


def test_unspaced_runs_become_bigrams_plus_their_last_character() -> None:
    assert tokens("我爱北京") == ["我爱", "爱北", "北京", "京"]


def test_the_stored_vector_numbers_tokens_in_order() -> None:
    assert index_vector("Hello, hello world") == "'hello':1 'hello':2 'world':3"
    assert index_vector("?!") is None and index_vector(None) is None


def test_words_are_prefixes_and_a_phrase_is_ordered() -> None:
    assert parse('deploy "red car"').tsquery == "('red' <-> 'car':*) & 'deploy':*"


def test_a_cjk_query_is_a_phrase_of_its_bigrams() -> None:
    assert parse("北京大").tsquery == "('北京' <-> '京大':*)"


@pytest.mark.parametrize("q", ["", '"', "&|!:*()", "'''", "\\\\"])
def test_a_query_without_words_is_refused(q: str) -> None:
    with pytest.raises(QueryError):
        parse(q)


def test_operator_characters_never_reach_the_tsquery() -> None:
    assert parse("a&b|!c:*(d)'e\\").tsquery == "'a':* & 'b':* & 'c':* & 'd':* & 'e':*"


def test_highlights_cover_the_matched_prefix_in_code_points() -> None:
    text = "😀 Grüße, grüßen"
    assert highlights(text, parse("grus").terms) == [(2, 6), (9, 13)]


def test_highlights_keep_a_decomposed_accent_with_its_letter() -> None:
    assert highlights("cafe\u0301 ok", parse("cafe").terms) == [(0, 5)]


def test_highlights_mark_a_cjk_substring() -> None:
    assert highlights("我们明天在北京开会", parse("北京").terms) == [(5, 7)]
