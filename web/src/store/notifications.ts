/** Notifications: the inbox (unread count, newest items), per-chat settings, desktop prompt state. */
import { create } from "zustand";
import type { ChatSettings, Id, Notification } from "../api/types";
import { sameId } from "../api/types";

export interface OpenRequest {
  chatId: Id;
  messageId: Id | null;
}

export interface NotificationsState {
  unread: number;
  items: Notification[];
  itemsLoaded: boolean;
  /** chat id -> the caller's settings of that chat, once fetched */
  chatSettings: Record<string, ChatSettings>;
  /** a desktop notification was clicked: the page navigates there */
  open: OpenRequest | null;
  setUnread(n: number): void;
  setItems(items: Notification[]): void;
  received(n: Notification): void;
  markRead(ids: Id[]): void;
  markAllRead(): void;
  setChatSettings(chatId: Id, settings: ChatSettings): void;
  requestOpen(req: OpenRequest | null): void;
  reset(): void;
}

const empty = {
  unread: 0,
  items: [] as Notification[],
  itemsLoaded: false,
  chatSettings: {} as Record<string, ChatSettings>,
  open: null as OpenRequest | null,
};

export const useNotifications = create<NotificationsState>((set) => ({
  ...empty,
  setUnread: (n) => set({ unread: Math.max(0, n) }),
  setItems: (items) => set({ items, itemsLoaded: true }),
  received: (n) =>
    set((s) => {
      if (s.items.some((i) => sameId(i.id, n.id))) return s;
      return { items: [n, ...s.items], unread: s.unread + (n.read ? 0 : 1) };
    }),
  markRead: (ids) =>
    set((s) => {
      const hit = s.items.filter((i) => !i.read && ids.some((id) => sameId(id, i.id))).length;
      return {
        items: s.items.map((i) => (ids.some((id) => sameId(id, i.id)) ? { ...i, read: true } : i)),
        unread: Math.max(0, s.unread - hit),
      };
    }),
  markAllRead: () => set((s) => ({ items: s.items.map((i) => ({ ...i, read: true })), unread: 0 })),
  setChatSettings: (chatId, settings) =>
    set((s) => ({ chatSettings: { ...s.chatSettings, [String(chatId)]: settings } })),
  requestOpen: (open) => set({ open }),
  reset: () => set({ ...empty }),
}));
