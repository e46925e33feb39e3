/**
 * Chat store: the chat list, the active chat, per-chat message lists and read markers, and a
 * small user cache. All list logic is delegated to the pure functions in src/chat.
 */
import { create } from "zustand";
import type { Chat, Id, Message, User } from "../api/types";
import { sameId } from "../api/types";
import {
  advanceMarker,
  applyChatUpdated,
  applyIncomingMessage,
  applyOthersRead,
  applyOwnRead,
  removeChat,
  upsertChats,
} from "../chat/chats";
import {
  applyAck,
  applyDeleted,
  markFailed,
  markPending,
  mergeMessages,
  normalize,
  type ChatMessage,
} from "../chat/messages";
import { followOriginal, keepKnown } from "../chat/conversation";

export interface ChatsState {
  chats: Chat[];
  chatsLoaded: boolean;
  activeChatId: Id | null;
  messages: Record<string, ChatMessage[]>;
  /** false once the oldest page was reached */
  hasMoreBefore: Record<string, boolean>;
  /** the newest page has been fetched at least once */
  loaded: Record<string, boolean>;
  /** chat id -> user id -> highest seq that user has read */
  readMarkers: Record<string, Record<string, number>>;
  /** direct chat id -> the other member */
  peers: Record<string, User>;
  users: Record<string, User>;

  setChats(chats: Chat[]): void;
  upsertChats(chats: Chat[]): void;
  /** a shared-view chat from `chat_updated`; returns false if the chat is unknown */
  chatUpdated(chat: Chat): boolean;
  removeChat(chatId: Id): void;
  setActive(chatId: Id | null): void;
  /** a message from the server (REST page, live, replay); returns false if the chat is unknown */
  receive(message: Message, me: Id | null): boolean;
  mergePage(chatId: Id, messages: Message[], opts: { hasMoreBefore?: boolean; newest?: boolean }): void;
  addLocal(chatId: Id, entry: ChatMessage): void;
  ack(chatId: Id, clientMsgId: string, message: Message, me: Id | null): void;
  fail(chatId: Id, clientMsgId: string, error: string): void;
  retrying(chatId: Id, clientMsgId: string): void;
  deleted(chatId: Id, messageId: Id, seq: number): void;
  /** Replace one loaded chat's list by `fn(list)` (reactions, pins: chat/conversation.ts). */
  patch(chatId: Id, fn: (list: ChatMessage[]) => ChatMessage[]): void;
  read(chatId: Id, userId: Id, seq: number, me: Id | null): void;
  setPeer(chatId: Id, user: User): void;
  cacheUsers(users: User[]): void;
  reset(): void;
}

const empty = {
  chats: [] as Chat[],
  chatsLoaded: false,
  activeChatId: null as Id | null,
  messages: {} as Record<string, ChatMessage[]>,
  hasMoreBefore: {} as Record<string, boolean>,
  loaded: {} as Record<string, boolean>,
  readMarkers: {} as Record<string, Record<string, number>>,
  peers: {} as Record<string, User>,
  users: {} as Record<string, User>,
};

export const useChats = create<ChatsState>((set, get) => ({
  ...empty,
  // A full list replaces membership, but a live message newer than the REST snapshot survives.
  setChats: (chats) =>
    set((s) => {
      const ids = new Set(chats.map((c) => String(c.id)));
      return { chats: upsertChats(s.chats.filter((old) => ids.has(String(old.id))), chats), chatsLoaded: true };
    }),
  upsertChats: (chats) => set((s) => ({ chats: upsertChats(s.chats, chats) })),
  chatUpdated(chat) {
    const { chats, known } = applyChatUpdated(get().chats, chat);
    if (known) set({ chats });
    return known;
  },
  removeChat: (chatId) =>
    set((s) => ({
      chats: removeChat(s.chats, chatId),
      activeChatId: sameId(s.activeChatId, chatId) ? null : s.activeChatId,
    })),
  setActive: (chatId) => set({ activeChatId: chatId }),
  receive(message, me) {
    const k = String(message.chat_id);
    const s = get();
    const { chats, known } = applyIncomingMessage(s.chats, message, { me, viewing: s.activeChatId });
    const list = s.messages[k];
    set({
      chats,
      // only chats whose newest page is loaded keep live messages (others fetch on open)
      messages: list ? { ...s.messages, [k]: withFrame(list, message) } : s.messages,
    });
    return known;
  },
  mergePage(chatId, messages, opts) {
    const k = String(chatId);
    set((s) => {
      const merged = mergeMessages(s.messages[k] ?? [], messages.map((m) => normalize(m)));
      return {
        messages: { ...s.messages, [k]: merged },
        hasMoreBefore:
          opts.hasMoreBefore === undefined ? s.hasMoreBefore : { ...s.hasMoreBefore, [k]: opts.hasMoreBefore },
        loaded: opts.newest ? { ...s.loaded, [k]: true } : s.loaded,
      };
    });
  },
  addLocal(chatId, entry) {
    const k = String(chatId);
    set((s) => ({ messages: { ...s.messages, [k]: mergeMessages(s.messages[k] ?? [], [entry]) } }));
  },
  ack(chatId, clientMsgId, message, me) {
    const k = String(chatId);
    set((s) => ({
      messages: { ...s.messages, [k]: applyAck(s.messages[k] ?? [], clientMsgId, message) },
      chats: applyIncomingMessage(s.chats, message, { me, viewing: s.activeChatId }).chats,
    }));
  },
  fail(chatId, clientMsgId, error) {
    const k = String(chatId);
    set((s) => ({ messages: { ...s.messages, [k]: markFailed(s.messages[k] ?? [], clientMsgId, error) } }));
  },
  retrying(chatId, clientMsgId) {
    const k = String(chatId);
    set((s) => ({ messages: { ...s.messages, [k]: markPending(s.messages[k] ?? [], clientMsgId) } }));
  },
  deleted(chatId, messageId, seq) {
    const k = String(chatId);
    set((s) => {
      const list = s.messages[k];
      const chats = s.chats.map((c) =>
        sameId(c.id, chatId) && c.last_message && sameId(c.last_message.id, messageId)
          ? { ...c, last_message: { ...c.last_message, deleted: true, text: null } }
          : c,
      );
      const next = list
        ? followOriginal(applyDeleted(list, messageId, seq), { id: messageId, text: null, deleted: true })
        : list;
      return { chats, messages: next ? { ...s.messages, [k]: next } : s.messages };
    });
  },
  read(chatId, userId, seq, me) {
    const k = String(chatId);
    set((s) => ({
      readMarkers: { ...s.readMarkers, [k]: advanceMarker(s.readMarkers[k] ?? {}, userId, seq) },
      chats: sameId(userId, me) ? applyOwnRead(s.chats, chatId, seq) : applyOthersRead(s.chats, chatId, seq),
    }));
  },
  setPeer: (chatId, user) =>
    set((s) => ({ peers: { ...s.peers, [String(chatId)]: user }, users: { ...s.users, [String(user.id)]: user } })),
  cacheUsers: (users) =>
    set((s) => {
      const next = { ...s.users };
      for (const u of users) next[String(u.id)] = u;
      return { users: next };
    }),
  patch(chatId, fn) {
    const k = String(chatId);
    set((s) => (s.messages[k] ? { messages: { ...s.messages, [k]: fn(s.messages[k] ?? []) } } : {}));
  },
  reset: () => set({ ...empty }),
}));

/** A message from a frame merged in: what we know better is kept, and replies quoting it follow. */
function withFrame(list: ChatMessage[], message: Message): ChatMessage[] {
  const known = list.find((m) => sameId(m.id, message.id));
  const merged = mergeMessages(list, [keepKnown(known, normalize(message))]);
  return known ? followOriginal(merged, { ...message, has_attachments: message.attachments.length > 0 }) : merged;
}
