/**
 * Message list logic, pure functions only (no React, no network).
 *
 * A chat's list holds confirmed messages (from REST pages, `ack`, `receive_message`, sync) and
 * the user's own unconfirmed ones (pending/failed, no `seq` yet). Invariants after every merge:
 *   - at most one entry per server id, per `seq`, and per own `client_msg_id`;
 *   - confirmed entries ascending by `seq`, then unconfirmed ones in the order they were written;
 *   - an entry's `key` never changes, so React keeps the same DOM node from pending to sent.
 */
import type { ForwardedFrom, Id, Message, Reaction, ReplyPreview } from "../api/types";
import { sameId } from "../api/types";

export type DeliveryStatus = "pending" | "sent" | "failed";

export interface ChatMessage {
  /** stable render key: own messages by client_msg_id (same before and after ack), others by id */
  key: string;
  id: Id | null;
  chat_id: Id;
  seq: number | null;
  sender_id: Id;
  client_msg_id: string | null;
  text: string | null;
  reply_to_id: Id | null;
  attachments: Message["attachments"];
  mentions: Id[];
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  reply_to: ReplyPreview | null;
  reactions: Reaction[];
  forwarded_from: ForwardedFrom | null;
  pinned: boolean;
  status: DeliveryStatus;
  error: string | null;
}

export function messageKey(senderId: Id, clientMsgId: string | null, id: Id | null): string {
  if (clientMsgId) return `c:${String(senderId)}:${clientMsgId}`;
  return `m:${String(id)}`;
}

/** A server message as a list entry. A null/absent field from an older server gets a default. */
export function normalize(raw: Message, clientMsgId?: string): ChatMessage {
  const cmid = raw.client_msg_id ?? clientMsgId ?? null;
  return {
    key: messageKey(raw.sender_id, cmid, raw.id),
    id: raw.id,
    chat_id: raw.chat_id,
    seq: typeof raw.seq === "number" ? raw.seq : Number(raw.seq),
    sender_id: raw.sender_id,
    client_msg_id: cmid,
    text: raw.deleted ? null : (raw.text ?? null),
    reply_to_id: raw.reply_to_id ?? null,
    attachments: raw.attachments ?? [],
    mentions: raw.mentions ?? [],
    created_at: raw.created_at,
    edited_at: raw.edited_at ?? null,
    deleted: Boolean(raw.deleted),
    reply_to: raw.reply_to ?? null,
    reactions: raw.deleted ? [] : (raw.reactions ?? []),
    forwarded_from: raw.forwarded_from ?? null,
    pinned: Boolean(raw.pinned),
    status: "sent",
    error: null,
  };
}

/** The entry shown the moment the user presses send. */
export function optimistic(
  chatId: Id,
  senderId: Id,
  clientMsgId: string,
  text: string,
  now: Date = new Date(),
  replyToId: Id | null = null,
  attachments: Message["attachments"] = [],
  replyTo: ReplyPreview | null = null,
): ChatMessage {
  return {
    key: messageKey(senderId, clientMsgId, null),
    id: null,
    chat_id: chatId,
    seq: null,
    sender_id: senderId,
    client_msg_id: clientMsgId,
    text,
    reply_to_id: replyToId,
    attachments,
    mentions: [],
    created_at: now.toISOString(),
    edited_at: null,
    deleted: false,
    reply_to: replyTo,
    reactions: [],
    forwarded_from: null,
    pinned: false,
    status: "pending",
    error: null,
  };
}

function isConfirmed(m: ChatMessage): boolean {
  return m.seq !== null && m.id !== null;
}

/** Which of two copies of the same confirmed message is the more recent state. */
function newer(a: ChatMessage, b: ChatMessage): ChatMessage {
  if (a.deleted !== b.deleted) return a.deleted ? a : b;
  const ea = a.edited_at ? Date.parse(a.edited_at) : 0;
  const eb = b.edited_at ? Date.parse(b.edited_at) : 0;
  return eb >= ea ? b : a;
}

export function compareMessages(a: ChatMessage, b: ChatMessage): number {
  const ca = a.seq !== null;
  const cb = b.seq !== null;
  if (ca && cb) return (a.seq as number) - (b.seq as number);
  if (ca !== cb) return ca ? -1 : 1; // unconfirmed after every confirmed one
  const t = Date.parse(a.created_at) - Date.parse(b.created_at);
  if (t !== 0) return t;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Merge entries into a list (REST page, live frame, replay, ack, optimistic send), in any order
 * and any number of times: the result is the same (idempotent, order-independent).
 */
export function mergeMessages(list: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  if (incoming.length === 0) return list as ChatMessage[];
  const out = list.slice();
  const byKey = new Map<string, number>();
  const byId = new Map<string, number>();
  const bySeq = new Map<number, number>();
  const index = (m: ChatMessage, i: number) => {
    byKey.set(m.key, i);
    if (m.id !== null) byId.set(String(m.id), i);
    if (m.seq !== null) bySeq.set(m.seq, i);
  };
  out.forEach(index);
  for (const m of incoming) {
    let i = m.id !== null ? byId.get(String(m.id)) : undefined;
    if (i === undefined) i = byKey.get(m.key);
    if (i === undefined && m.seq !== null) i = bySeq.get(m.seq);
    if (i === undefined) {
      out.push(m);
      index(m, out.length - 1);
      continue;
    }
    const old = out[i] as ChatMessage;
    let next: ChatMessage;
    if (isConfirmed(old) && !isConfirmed(m)) {
      next = old; // a late optimistic copy (retry of something already delivered) changes nothing
    } else if (!isConfirmed(old) && isConfirmed(m)) {
      next = { ...m, key: old.key, client_msg_id: m.client_msg_id ?? old.client_msg_id };
    } else if (isConfirmed(old) && isConfirmed(m)) {
      next = { ...newer(old, m), key: old.key };
    } else {
      next = { ...m, key: old.key }; // both unconfirmed: the newer local state (retry, failure) wins
    }
    out[i] = next;
    index(next, i);
  }
  out.sort(compareMessages);
  // Sorting moved entries; a second pass drops any duplicate that two different keys let in
  // (e.g. an own message first seen by id from another device, later by client_msg_id).
  const seenId = new Set<string>();
  const seenSeq = new Set<number>();
  return out.filter((m) => {
    if (m.id !== null) {
      const k = String(m.id);
      if (seenId.has(k)) return false;
      seenId.add(k);
    }
    if (m.seq !== null) {
      if (seenSeq.has(m.seq)) return false;
      seenSeq.add(m.seq);
    }
    return true;
  });
}

/** The `ack` of an own send: the pending entry becomes the server's message. */
export function applyAck(list: readonly ChatMessage[], clientMsgId: string, message: Message): ChatMessage[] {
  return mergeMessages(list, [normalize(message, clientMsgId)]);
}

function updateOwn(
  list: readonly ChatMessage[],
  clientMsgId: string,
  patch: (m: ChatMessage) => ChatMessage,
): ChatMessage[] {
  let changed = false;
  const out = list.map((m) => {
    if (m.client_msg_id === clientMsgId && !isConfirmed(m)) {
      changed = true;
      return patch(m);
    }
    return m;
  });
  return changed ? out : (list as ChatMessage[]);
}

export function markFailed(list: readonly ChatMessage[], clientMsgId: string, error: string): ChatMessage[] {
  return updateOwn(list, clientMsgId, (m) => ({ ...m, status: "failed", error }));
}

export function markPending(list: readonly ChatMessage[], clientMsgId: string): ChatMessage[] {
  return updateOwn(list, clientMsgId, (m) => ({ ...m, status: "pending", error: null }));
}

export function removeUnconfirmed(list: readonly ChatMessage[], clientMsgId: string): ChatMessage[] {
  return list.filter((m) => !(m.client_msg_id === clientMsgId && !isConfirmed(m)));
}

export function applyDeleted(list: readonly ChatMessage[], messageId: Id, seq: number): ChatMessage[] {
  return list.map((m) =>
    sameId(m.id, messageId) || (m.seq !== null && m.seq === seq && m.id !== null)
      ? { ...m, deleted: true, text: null, attachments: [], reactions: [], pinned: false }
      : m,
  );
}

export function pendingMessages(list: readonly ChatMessage[]): ChatMessage[] {
  return list.filter((m) => m.status === "pending" && !isConfirmed(m));
}

/** Lowest confirmed seq (the `before` of the next older page), or null for an empty list. */
export function oldestSeq(list: readonly ChatMessage[]): number | null {
  for (const m of list) if (m.seq !== null) return m.seq;
  return null;
}

export function newestSeq(list: readonly ChatMessage[]): number | null {
  for (let i = list.length - 1; i >= 0; i--) {
    const s = (list[i] as ChatMessage).seq;
    if (s !== null) return s;
  }
  return null;
}

/**
 * Where a contiguous run of known messages ends before a hole, given that messages from
 * `oldestSeq` up to the newest are expected without gaps (seq has no gaps server-side). Returns
 * the seq after which to fetch (`after=`), or null when the loaded range is complete.
 */
export function firstGap(list: readonly ChatMessage[]): number | null {
  let prev: number | null = null;
  for (const m of list) {
    if (m.seq === null) continue;
    if (prev !== null && m.seq > prev + 1) return prev;
    prev = m.seq;
  }
  return null;
}

/** New client message id: a UUID v4, also where crypto.randomUUID is missing (plain-http hosts). */
export function newClientMsgId(rand: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const b = rand(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
