/**
 * The small, safe formatting subset of message text, parsed into a tree that components render
 * as React elements (never as HTML strings, so nothing in a message can become markup):
 *
 *   **bold**   *italic* or _italic_   `code`   ```code block```   > quote   @mention
 *   http(s) URLs become links (no other scheme: never javascript:, data: or the like).
 *
 * Anything that does not match is kept as typed. Pure functions, unit-tested.
 */

export type Inline =
  | { t: "text"; v: string }
  | { t: "code"; v: string }
  | { t: "strong"; c: Inline[] }
  | { t: "em"; c: Inline[] }
  | { t: "link"; href: string; v: string }
  | { t: "mention"; v: string };

export type Block = { t: "p"; c: Inline[] } | { t: "pre"; v: string } | { t: "quote"; c: Inline[] };

// One alternative per construct, leftmost match wins; groups: 1 code, 2 bold, 3 italic (*),
// 4 italic (_), 5 URL, 6 mention. `_` italics need word boundaries so snake_case stays as is.
const INLINE =
  /`([^`\n]+)`|\*\*(?=\S)([\s\S]*?\S)\*\*|\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)|(?<![\p{L}\p{N}_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\p{L}\p{N}_])|(https?:\/\/[^\s<>]*[^\s<>.,:;"'!?)\]}])|(?<![\p{L}\p{N}_@.])@([A-Za-z0-9_]{1,32})/u;

const MAX_DEPTH = 4; // bold inside italic inside bold...: deeper is shown as typed

/** A URL safe to put in href, or null: http(s) only, parsed by the URL parser. */
export function safeHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function parseInline(text: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  let rest = text;
  const pushText = (v: string) => {
    if (!v) return;
    const last = out[out.length - 1];
    if (last?.t === "text") last.v += v;
    else out.push({ t: "text", v });
  };
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) break;
    pushText(rest.slice(0, m.index));
    const [whole, code, bold, star, under, url, mention] = m;
    if (code !== undefined) out.push({ t: "code", v: code });
    else if (bold !== undefined) out.push(depth < MAX_DEPTH ? { t: "strong", c: parseInline(bold, depth + 1) } : { t: "text", v: whole });
    else if (star !== undefined || under !== undefined) {
      const inner = (star ?? under) as string;
      out.push(depth < MAX_DEPTH ? { t: "em", c: parseInline(inner, depth + 1) } : { t: "text", v: whole });
    } else if (url !== undefined) {
      const href = safeHref(url);
      if (href) out.push({ t: "link", href, v: url });
      else pushText(url);
    } else if (mention !== undefined) out.push({ t: "mention", v: mention });
    rest = rest.slice(m.index + whole.length);
  }
  pushText(rest);
  return out;
}

const FENCE = /^\s*```/;

export function parseBlocks(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length > 0) blocks.push({ t: "p", c: parseInline(para.join("\n")) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (FENCE.test(line)) {
      const end = lines.findIndex((l, j) => j > i && FENCE.test(l));
      if (end !== -1) {
        flush();
        // text after the opening fence on its line is a language name: not shown
        blocks.push({ t: "pre", v: lines.slice(i + 1, end).join("\n") });
        i = end;
        continue;
      }
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quoted: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i] as string)) quoted.push((lines[i++] as string).replace(/^>\s?/, ""));
      i--;
      blocks.push({ t: "quote", c: parseInline(quoted.join("\n")) });
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

/** The text without formatting marks (chat list previews, notifications, screen reader labels). */
export function plainText(text: string): string {
  const inline = (c: Inline[]): string =>
    c.map((n) => (n.t === "strong" || n.t === "em" ? inline(n.c) : n.t === "mention" ? `@${n.v}` : n.v)).join("");
  return parseBlocks(text)
    .map((b) => (b.t === "pre" ? b.v : inline(b.c)))
    .join("\n");
}
