/**
 * Unsent text per chat, kept in localStorage so it survives a reload or a switch to another
 * chat (like Telegram's and Slack's drafts). Signing out deletes them.
 */
import { useSession } from "../store/session";

const KEY = "messenger.drafts";
const MAX_DRAFTS = 50;

type Drafts = Record<string, string>;

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

function read(): Drafts {
  try {
    const raw = storage()?.getItem(KEY);
    const parsed: unknown = raw ? JSON.parse(raw) : {};
    return parsed && typeof parsed === "object" ? (parsed as Drafts) : {};
  } catch {
    return {};
  }
}

export function loadDraft(chatId: string): string {
  return read()[chatId] ?? "";
}

export function saveDraft(chatId: string, text: string): void {
  const drafts = read();
  delete drafts[chatId]; // re-inserted last: the newest drafts are the ones kept
  if (text.trim()) drafts[chatId] = text;
  const keys = Object.keys(drafts);
  for (const k of keys.slice(0, Math.max(0, keys.length - MAX_DRAFTS))) delete drafts[k];
  try {
    storage()?.setItem(KEY, JSON.stringify(drafts));
  } catch {
    // storage full or disabled: the draft lives as long as the page
  }
}

if (typeof window !== "undefined") {
  useSession.subscribe((s, before) => {
    if (s.tokens === null && before.tokens !== null) storage()?.removeItem(KEY);
  });
}
