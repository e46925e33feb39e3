/**
 * Notifications: the inbox (unread count, newest items), per-chat settings, desktop prompt state.
 *
 * The bell's count comes from two sources that race: REST snapshots (on mount, on every socket
 * `ready`, after reading a chat) and live `notification` frames. Frames are not replayed by
 * `resume`, so a snapshot must follow every (re)connect; and a snapshot must never overwrite a
 * frame it does not include. So a snapshot is begun before its request is sent: frames that
 * arrive while it is in flight are recorded, and when it lands, those it does not list (by id)
 * are added on top. Ids already accounted for are remembered, so a frame that arrives after a
 * snapshot that already counted it is not counted twice. The newest snapshot begun wins.
 */
import { create } from "zustand";
import type { ChatSettings, Id, Notification } from "../api/types";
import { sameId } from "../api/types";

export interface OpenRequest {
  chatId: Id;
  messageId: Id | null;
}

/** What a REST snapshot of the unread notifications found. */
export interface UnreadSnapshot {
  /** how many are unread */
  count: number;
  /** the unread ones' ids (newest first; all of them when `complete`) */
  unreadIds: Id[];
  /** `unreadIds` lists every unread notification (one page held them all) */
  complete: boolean;
}

export interface NotificationsState {
  unread: number;
  items: Notification[];
  itemsLoaded: boolean;
  /** chat id -> the caller's settings of that chat, once fetched */
  chatSettings: Record<string, ChatSettings>;
  /** a desktop notification was clicked: the page navigates there */
  open: OpenRequest | null;
  /** Call before sending a snapshot's request; pass the handle to apply or drop it. */
  beginSnapshot(): number;
  applyUnread(handle: number, snapshot: UnreadSnapshot): void;
  applyItems(handle: number, items: Notification[]): void;
  dropSnapshot(handle: number): void;
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

// Bookkeeping that no component renders (kept out of the state so it never triggers a render).
let nextHandle = 0;
/** handle of a snapshot in flight -> the frames that arrived since it began */
let inFlight = new Map<number, Notification[]>();
/** the newest count snapshot applied: an older one landing late is stale */
let newestApplied = 0;
/** ids whose unread state the count already reflects (a late frame for one adds nothing) */
let counted = new Set<string>();

function take(handle: number): Notification[] | undefined {
  const arrived = inFlight.get(handle);
  inFlight.delete(handle);
  return arrived;
}

export const useNotifications = create<NotificationsState>((set) => ({
  ...empty,
  beginSnapshot: () => {
    const handle = ++nextHandle;
    inFlight.set(handle, []);
    return handle;
  },
  applyUnread: (handle, snapshot) => {
    const arrived = take(handle);
    if (arrived === undefined || handle < newestApplied) return; // reset meanwhile, or stale
    newestApplied = handle;
    const unreadIds = new Set(snapshot.unreadIds.map(String));
    // frames the snapshot was too early to include
    const extra = new Set(arrived.filter((n) => !n.read && !unreadIds.has(String(n.id))).map((n) => String(n.id)));
    for (const id of [...unreadIds, ...extra]) counted.add(id);
    set((s) => ({
      unread: Math.max(0, snapshot.count + extra.size),
      // a complete snapshot also tells which shown items were read elsewhere (e.g. by reading the chat)
      items: snapshot.complete
        ? s.items.map((i) => (i.read || unreadIds.has(String(i.id)) || extra.has(String(i.id)) ? i : { ...i, read: true }))
        : s.items,
    }));
  },
  applyItems: (handle, items) => {
    const arrived = take(handle);
    if (arrived === undefined) return;
    const listed = new Set(items.map((i) => String(i.id)));
    const newer = arrived.filter((n) => !listed.has(String(n.id))).reverse(); // newest first
    set({ items: [...newer, ...items], itemsLoaded: true });
  },
  dropSnapshot: (handle) => {
    inFlight.delete(handle);
  },
  received: (n) => {
    for (const arrived of inFlight.values()) arrived.push(n);
    const fresh = !counted.has(String(n.id));
    counted.add(String(n.id));
    set((s) => {
      const known = s.items.some((i) => sameId(i.id, n.id));
      if (known && !fresh) return s;
      return {
        items: known ? s.items : [n, ...s.items],
        unread: s.unread + (fresh && !n.read ? 1 : 0),
      };
    });
  },
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
  reset: () => {
    inFlight = new Map();
    counted = new Set();
    newestApplied = nextHandle;
    set({ ...empty });
  },
}));
