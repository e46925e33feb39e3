/** @-mention autocomplete in the composer (pure; unit-tested). */
import type { User } from "../api/types";

export interface MentionQuery {
  /** index of the "@" in the text */
  start: number;
  /** what was typed after it */
  query: string;
}

/** The "@word" being typed just before the caret, if any (not inside an email address). */
export function mentionAt(text: string, caret: number): MentionQuery | null {
  const m = /(^|[^\p{L}\p{N}_@.])@([A-Za-z0-9_]{0,32})$/u.exec(text.slice(0, caret));
  if (!m) return null;
  const query = m[2] ?? "";
  return { start: caret - query.length - 1, query };
}

/** Members matching the query by username or display name prefix (any word), best first. */
export function matchMembers(users: User[], query: string, exclude: string | null, limit = 6): User[] {
  const q = query.toLowerCase();
  const scored: { user: User; score: number }[] = [];
  for (const u of users) {
    if (exclude !== null && String(u.id) === exclude) continue;
    if (u.username === null) continue; // a deleted account cannot be mentioned
    const name = u.username.toLowerCase();
    const words = (u.display_name ?? "").toLowerCase().split(/\s+/);
    const score = name.startsWith(q) ? 0 : words.some((w) => w.startsWith(q)) ? 1 : name.includes(q) ? 2 : -1;
    if (score >= 0) scored.push({ user: u, score });
  }
  scored.sort((a, b) => a.score - b.score || (a.user.username ?? "").localeCompare(b.user.username ?? ""));
  return scored.slice(0, limit).map((s) => s.user);
}

/** The text with the query replaced by "@username " and where the caret goes after it. */
export function applyMention(text: string, at: MentionQuery, username: string): { text: string; caret: number } {
  const before = text.slice(0, at.start);
  const after = text.slice(at.start + 1 + at.query.length);
  const inserted = `@${username}${after.startsWith(" ") ? "" : " "}`;
  return { text: before + inserted + after, caret: before.length + inserted.length + (after.startsWith(" ") ? 1 : 0) };
}
