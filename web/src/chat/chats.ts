/** Chat list logic, pure functions: ordering, last message, unread counters, read markers. */
import type { Chat, Id, Message } from "../api/types";
import { sameId } from "../api/types";

export function activityTime(chat: Chat): number {
  const t = chat.last_message?.created_at ?? chat.created_at;
  const n = Date.parse(t);
  return Number.isNaN(n) ? 0 : n;
}

/** Newest activity first (the server's order); ties by id so the order is stable. */
export function sortChats(chats: readonly Chat[]): Chat[] {
  return chats.slice().sort((a, b) => activityTime(b) - activityTime(a) || String(b.id).localeCompare(String(a.id)));
}

/** Insert or replace chats by id (REST pages, `chat_updated`), keeping the list sorted. */
export function upsertChats(list: readonly Chat[], incoming: readonly Chat[]): Chat[] {
  const out = list.slice();
  const index = new Map(out.map((c, i) => [String(c.id), i]));
  for (const c of incoming) {
    const i = index.get(String(c.id));
    if (i === undefined) {
      index.set(String(c.id), out.length);
      out.push(c);
    } else {
      const old = out[i] as Chat;
      // a chat_updated frame may be older than what a live message already told us
      const keepLast = old.last_seq > c.last_seq;
      const next = keepLast ? { ...c, last_message: old.last_message, last_seq: old.last_seq, unread_count: old.unread_count } : c;
      // read markers only move forward (a live `read` frame may be newer than the REST copy)
      out[i] = {
        ...next,
        last_read_seq: Math.max(next.last_read_seq ?? 0, old.last_read_seq ?? 0),
        others_read_seq: Math.max(next.others_read_seq ?? 0, old.others_read_seq ?? 0),
      };
    }
  }
  return sortChats(out);
}

/**
 * A `chat_updated` frame carries the shared view of the chat (`role` null, `unread_count` 0, read
 * markers only as floors true for every member): take its title/description/member count, keep
 * our own role, unread count and newest message, and the higher of our markers and its floors.
 * An unknown chat is reported so the caller fetches its own view over REST.
 */
export function applyChatUpdated(list: readonly Chat[], shared: Chat): { chats: Chat[]; known: boolean } {
  const i = list.findIndex((c) => sameId(c.id, shared.id));
  if (i === -1) return { chats: list as Chat[], known: false };
  const old = list[i] as Chat;
  const newer = shared.last_seq > old.last_seq;
  const lastSeq = newer ? shared.last_seq : old.last_seq;
  const lastRead = Math.max(old.last_read_seq ?? 0, shared.last_read_seq ?? 0);
  const out = list.slice();
  out[i] = {
    ...shared,
    role: old.role,
    unread_count: Math.min(old.unread_count, Math.max(0, lastSeq - lastRead)),
    last_read_seq: lastRead,
    others_read_seq: Math.max(old.others_read_seq ?? 0, shared.others_read_seq ?? 0),
    last_message: newer ? shared.last_message : old.last_message,
    last_seq: lastSeq,
  };
  return { chats: sortChats(out), known: true };
}

export function removeChat(list: readonly Chat[], chatId: Id): Chat[] {
  return list.filter((c) => !sameId(c.id, chatId));
}

/**
 * A message arrived (live or replayed). It becomes the chat's last message if it is newer, and
 * counts as unread unless it is our own or the chat is open and visible. Replays of a message
 * already counted (seq <= last_seq) change nothing, so a resume never double-counts.
 */
export function applyIncomingMessage(
  list: readonly Chat[],
  message: Message,
  opts: { me: Id | null; viewing: Id | null },
): { chats: Chat[]; known: boolean } {
  const i = list.findIndex((c) => sameId(c.id, message.chat_id));
  if (i === -1) return { chats: list as Chat[], known: false };
  const chat = list[i] as Chat;
  if (message.seq <= chat.last_seq) {
    // an edit/delete of the current last message still updates the preview
    if (chat.last_message && sameId(chat.last_message.id, message.id)) {
      const out = list.slice();
      out[i] = { ...chat, last_message: message };
      return { chats: out, known: true };
    }
    return { chats: list as Chat[], known: true };
  }
  const own = sameId(message.sender_id, opts.me);
  const viewing = sameId(opts.viewing, message.chat_id);
  const out = list.slice();
  out[i] = {
    ...chat,
    last_message: message,
    last_seq: message.seq,
    unread_count: own || viewing ? chat.unread_count : chat.unread_count + 1,
    // sending moves the sender's marker to their message: others have read up to it
    ...(own
      ? { last_read_seq: Math.max(chat.last_read_seq ?? 0, message.seq) }
      : { others_read_seq: Math.max(chat.others_read_seq ?? 0, message.seq) }),
  };
  return { chats: sortChats(out), known: true };
}

/** Our own read marker moved (this device or another): unread is what lies beyond it. */
export function applyOwnRead(list: readonly Chat[], chatId: Id, seq: number): Chat[] {
  return list.map((c) => {
    if (!sameId(c.id, chatId)) return c;
    const unread = Math.max(0, Math.min(c.unread_count, c.last_seq - seq));
    const marker = Math.max(c.last_read_seq ?? 0, seq);
    return unread === c.unread_count && marker === c.last_read_seq ? c : { ...c, unread_count: unread, last_read_seq: marker };
  });
}

/** Another member's read marker moved: "Seen" follows the highest one. */
export function applyOthersRead(list: readonly Chat[], chatId: Id, seq: number): Chat[] {
  return list.map((c) => (sameId(c.id, chatId) && seq > (c.others_read_seq ?? 0) ? { ...c, others_read_seq: seq } : c));
}

export function totalUnread(list: readonly Chat[]): number {
  return list.reduce((n, c) => n + (c.unread_count > 0 ? c.unread_count : 0), 0);
}

/** Read markers of other members move forward only. */
export function advanceMarker(markers: Readonly<Record<string, number>>, userId: Id, seq: number): Record<string, number> {
  const k = String(userId);
  const old = markers[k];
  if (old !== undefined && old >= seq) return markers as Record<string, number>;
  return { ...markers, [k]: seq };
}
