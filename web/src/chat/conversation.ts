/**
 * Replies, reactions and pins on a chat's message list: pure functions, no React, no network.
 *
 * Persisted frames carry one view for every reader: `reactions[].me` is always false there and
 * `forwarded_from` has no chat/message ids (docs/api.md, "Messages: new fields"). So a frame's
 * copy of a message never overwrites what the client already knows better (`keepKnown`), and
 * `me` comes from `reactions_changed.user_id`.
 */
import type { Id, Reaction } from "../api/types";
import { sameId } from "../api/types";
import type { ChatMessage } from "./messages";

export const REPLY_PREVIEW_CHARS = 200;

/** A frame's copy of a message, with the reader-specific parts taken from the known entry. */
export function keepKnown(known: ChatMessage | undefined, incoming: ChatMessage): ChatMessage {
  if (!known || incoming.deleted) return incoming;
  const mine = new Set(known.reactions.filter((r) => r.me).map((r) => r.emoji));
  return {
    ...incoming,
    reactions: incoming.reactions.map((r) => ({ ...r, me: mine.has(r.emoji) })),
    forwarded_from: known.forwarded_from ?? incoming.forwarded_from,
  };
}

/** A `reactions_changed` frame: the counts are the server's; `me` changes only for our own. */
export function applyReactions(
  list: readonly ChatMessage[],
  f: { message_id: Id; user_id: Id; emoji: string; added: boolean; reactions: Reaction[] },
  self: Id | null,
): ChatMessage[] {
  return list.map((m) => {
    if (!sameId(m.id, f.message_id) || m.deleted) return m;
    const mine = new Set(m.reactions.filter((r) => r.me).map((r) => r.emoji));
    if (sameId(f.user_id, self)) {
      if (f.added) mine.add(f.emoji);
      else mine.delete(f.emoji);
    }
    return { ...m, reactions: f.reactions.map((r) => ({ emoji: r.emoji, count: r.count, me: mine.has(r.emoji) })) };
  });
}

/** What our own click should show at once (the frame that follows confirms it). */
export function toggleOwn(list: readonly ChatMessage[], messageId: Id, emoji: string, on: boolean): ChatMessage[] {
  return list.map((m) => {
    if (!sameId(m.id, messageId)) return m;
    const existing = m.reactions.find((r) => r.emoji === emoji);
    if (on === Boolean(existing?.me)) return m;
    let reactions: Reaction[];
    if (on) {
      reactions = existing
        ? m.reactions.map((r) => (r.emoji === emoji ? { ...r, count: r.count + 1, me: true } : r))
        : [...m.reactions, { emoji, count: 1, me: true }];
    } else {
      reactions = m.reactions
        .map((r) => (r.emoji === emoji ? { ...r, count: r.count - 1, me: false } : r))
        .filter((r) => r.count > 0);
    }
    return { ...m, reactions };
  });
}

export function applyPinned(list: readonly ChatMessage[], messageId: Id, pinned: boolean): ChatMessage[] {
  return list.map((m) => (sameId(m.id, messageId) && m.pinned !== pinned ? { ...m, pinned } : m));
}

/** The original of some replies was edited or deleted: their quotes follow it. */
export function followOriginal(
  list: readonly ChatMessage[],
  original: { id: Id; text: string | null; deleted: boolean; has_attachments?: boolean },
): ChatMessage[] {
  let changed = false;
  const out = list.map((m) => {
    if (!m.reply_to || !sameId(m.reply_to.id, original.id)) return m;
    changed = true;
    const text = original.deleted || original.text === null ? null : Array.from(original.text).slice(0, REPLY_PREVIEW_CHARS).join("");
    return {
      ...m,
      reply_to: {
        ...m.reply_to,
        text,
        deleted: original.deleted,
        has_attachments: original.deleted ? false : (original.has_attachments ?? m.reply_to.has_attachments),
      },
    };
  });
  return changed ? out : (list as ChatMessage[]);
}

/** One line of a quoted message. */
export function quoteLine(preview: { text: string | null; deleted: boolean; has_attachments: boolean }): string {
  if (preview.deleted) return "Message deleted";
  if (preview.text) return preview.text.replace(/\s+/g, " ");
  return preview.has_attachments ? "Attachment" : "";
}
