/** Realtime store: connection status, who is typing where, who is online. */
import { create } from "zustand";
import type { Id } from "../api/types";
import type { ConnStatus } from "../chat/reconnect";

export const TYPING_TTL_MS = 6000;

export interface RealtimeState {
  status: ConnStatus;
  /** chat id -> user id -> epoch ms until which the user counts as typing */
  typing: Record<string, Record<string, number>>;
  presence: Record<string, boolean>;
  /** `ready.presence` arrived: a user absent from it (and from later frames) is offline */
  presenceKnown: boolean;
  /** user id -> last seen (GET /v1/presence); null when hidden or never seen */
  lastSeen: Record<string, string | null>;
  /** `ready.presence`: exactly these are online now (replaces what an earlier socket said) */
  presenceSnapshot(online: Id[]): void;
  setLastSeen(userId: Id, at: string | null): void;
  setStatus(status: ConnStatus): void;
  typingFrom(chatId: Id, userId: Id, now?: number): void;
  stopTyping(chatId: Id, userId: Id): void;
  expireTyping(now?: number): void;
  setPresence(userId: Id, online: boolean): void;
  reset(): void;
}

export const useRealtime = create<RealtimeState>((set, get) => ({
  status: "idle",
  typing: {},
  presence: {},
  presenceKnown: false,
  lastSeen: {},
  presenceSnapshot(online) {
    const presence: Record<string, boolean> = {};
    for (const id of online) presence[String(id)] = true;
    set({ presence, presenceKnown: true });
  },
  setLastSeen(userId, at) {
    const k = String(userId);
    if (get().lastSeen[k] === at) return;
    set((s) => ({ lastSeen: { ...s.lastSeen, [k]: at } }));
  },
  setStatus: (status) => {
    if (get().status !== status) set({ status });
  },
  typingFrom(chatId, userId, now = Date.now()) {
    const c = String(chatId);
    set((s) => ({ typing: { ...s.typing, [c]: { ...s.typing[c], [String(userId)]: now + TYPING_TTL_MS } } }));
  },
  stopTyping(chatId, userId) {
    const c = String(chatId);
    const cur = get().typing[c];
    if (!cur || !(String(userId) in cur)) return;
    const next = { ...cur };
    delete next[String(userId)];
    set((s) => ({ typing: { ...s.typing, [c]: next } }));
  },
  expireTyping(now = Date.now()) {
    const typing = get().typing;
    let changed = false;
    const out: Record<string, Record<string, number>> = {};
    for (const [c, users] of Object.entries(typing)) {
      const kept: Record<string, number> = {};
      for (const [u, until] of Object.entries(users)) {
        if (until > now) kept[u] = until;
        else changed = true;
      }
      out[c] = kept;
    }
    if (changed) set({ typing: out });
  },
  setPresence(userId, online) {
    const k = String(userId);
    if (get().presence[k] === online) return;
    set((s) => ({ presence: { ...s.presence, [k]: online } }));
  },
  reset: () => set({ status: "idle", typing: {}, presence: {}, presenceKnown: false, lastSeen: {} }),
}));
