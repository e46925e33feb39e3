/**
 * Replies, reactions, pins and forwarding: the REST calls and the handling of their frames.
 * List logic lives in chat/conversation.ts; the realtime controller hands frames over here.
 */
import { api } from "../api";
import type { Id, ServerFrame } from "../api/types";
import { sameId } from "../api/types";
import { applyPinned, applyReactions, toggleOwn } from "../chat/conversation";
import { newClientMsgId, type ChatMessage } from "../chat/messages";
import { useChats } from "../store/chats";
import { usePins } from "../store/pins";
import { useSession } from "../store/session";

const RECENT_KEY = "messenger.recentEmoji";
const RECENT_MAX = 16;

function self(): Id | null {
  return useSession.getState().user?.id ?? null;
}

/** Recently used emoji, most recent first (this browser only). */
export function recentEmoji(): string[] {
  try {
    const raw = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]") as unknown;
    return Array.isArray(raw) ? raw.filter((e): e is string => typeof e === "string").slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

function rememberEmoji(emoji: string): void {
  const next = [emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    // private mode or full storage: recents are a nicety
  }
}

export async function react(m: ChatMessage, emoji: string, on: boolean): Promise<void> {
  if (m.id === null) return;
  const id = m.id;
  if (on) rememberEmoji(emoji);
  useChats.getState().patch(m.chat_id, (list) => toggleOwn(list, id, emoji, on));
  try {
    await api.conversation.react(m.chat_id, id, emoji, on);
  } catch (err) {
    useChats.getState().patch(m.chat_id, (list) => toggleOwn(list, id, emoji, !on));
    throw err;
  }
}

export async function pin(m: ChatMessage, on: boolean): Promise<void> {
  if (m.id === null) return;
  await api.conversation.pin(m.chat_id, m.id, on);
  const id = m.id;
  useChats.getState().patch(m.chat_id, (list) => applyPinned(list, id, on));
  await loadPins(m.chat_id);
}

export async function loadPins(chatId: Id): Promise<void> {
  const { messages } = await api.conversation.pins(chatId);
  usePins.getState().setPins(String(chatId), messages);
}

/** Forward one message to each chat; resolves to the chats it could not go to. */
export async function forward(m: ChatMessage, targets: Id[]): Promise<Id[]> {
  if (m.id === null) return targets;
  const from = { chat_id: m.chat_id, message_id: m.id };
  const results = await Promise.allSettled(
    targets.map((t) => api.conversation.forward(t, newClientMsgId(), from).then(({ message }) => {
      useChats.getState().receive(message, self());
    })),
  );
  return targets.filter((_, i) => results[i]?.status === "rejected");
}

/** Frames of this area; returns whether the frame was one of them. */
export function onConversationFrame(f: ServerFrame): boolean {
  switch (f.type) {
    case "reactions_changed":
      useChats.getState().patch(f.chat_id, (list) => applyReactions(list, f, self()));
      return true;
    case "pins_changed":
      useChats.getState().patch(f.chat_id, (list) => applyPinned(list, f.message_id, f.pinned));
      if (usePins.getState().pins[String(f.chat_id)] !== undefined) void loadPins(f.chat_id).catch(() => undefined);
      return true;
    case "message_edited":
    case "message_deleted": {
      const chatId = f.type === "message_edited" ? f.message.chat_id : f.chat_id;
      const messageId = f.type === "message_edited" ? f.message.id : f.message_id;
      const pins = usePins.getState().pins[String(chatId)];
      if (pins?.some((p) => sameId(p.id, messageId))) void loadPins(chatId).catch(() => undefined);
      return false;
    }
    default:
      return false;
  }
}
