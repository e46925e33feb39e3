/** Pure helpers for search results: highlight pieces and the client-side chat filter. */

export interface Piece {
  text: string;
  hit: boolean;
}

/** Split text into plain and highlighted pieces; offsets are code points (not UTF-16 units). */
export function highlightPieces(text: string, spans: readonly (readonly [number, number])[]): Piece[] {
  const points = Array.from(text);
  const out: Piece[] = [];
  let at = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    const s = Math.max(at, Math.min(start, points.length));
    const e = Math.max(s, Math.min(end, points.length));
    if (s > at) out.push({ text: points.slice(at, s).join(""), hit: false });
    if (e > s) out.push({ text: points.slice(s, e).join(""), hit: true });
    at = e;
  }
  if (at < points.length) out.push({ text: points.slice(at).join(""), hit: false });
  return out;
}

/** Accent- and case-folded text, as the server folds it (NFKD, marks dropped, lower case). */
export function fold(text: string): string {
  return text.normalize("NFKD").replace(/\p{Mn}/gu, "").toLowerCase();
}

/** Whether every word of the query starts a word of the name (the server's `?q=` rule). */
export function matchesName(name: string, query: string): boolean {
  const words = fold(name).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const wanted = fold(query).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (wanted.length === 0) return false;
  return wanted.every((w) => words.some((n) => n.startsWith(w)));
}

/** A snippet around the first highlight so the hit is visible in a one-line result. */
export function snippetStart(text: string, spans: readonly (readonly [number, number])[], context = 30): number {
  const first = spans.length > 0 ? Math.min(...spans.map((s) => s[0])) : 0;
  if (first <= context) return 0;
  const points = Array.from(text);
  let start = first - context;
  while (start > 0 && !/\s/u.test(points[start - 1] ?? "")) start--;
  return Math.max(0, Math.min(start, first));
}
