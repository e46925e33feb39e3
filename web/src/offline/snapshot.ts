/**
 * The offline copy: the chat list and the newest messages of the most recent chats, kept in
 * localStorage for the signed-in user only. Opened without a network (the service worker serves
 * the app shell), the app shows these chats read-only until the connection is live again.
 *
 * It is written by the app, not by the service worker: the service worker never caches API
 * responses, which are private per user and carry short-lived URLs. Signing out deletes it.
 */
import { create } from "zustand";
import type { Chat, Id, Message, User } from "../api/types";
import type { ChatMessage } from "../chat/messages";
import { useChats, type ChatsState } from "../store/chats";
import { useRealtime } from "../store/realtime";
import { useSession } from "../store/session";

const KEY = "messenger.offline";
const MAX_CHATS = 30;
const MAX_MESSAGES = 40;
const WRITE_DELAY_MS = 1000;

export interface Snapshot {
  user: string;
  savedAt: string;
  chats: Chat[];
  messages: Record<string, Message[]>;
  peers: Record<string, User>;
  users: Record<string, User>;
}

/** Whether what is on screen came from the saved copy (nothing fresh from the server yet). */
export const useOffline = create<{ showingSaved: boolean }>(() => ({ showingSaved: false }));

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

function toMessage(m: ChatMessage): Message | null {
  if (m.status !== "sent" || m.id === null || m.seq === null) return null;
  const { key: _key, status: _status, error: _error, ...rest } = m;
  return { ...rest, id: m.id, seq: m.seq };
}

/** What is worth keeping of the chat store (pure; unit-tested). */
export function takeSnapshot(user: Id, s: Pick<ChatsState, "chats" | "messages" | "peers" | "users">, now = new Date()): Snapshot {
  const chats = s.chats.slice(0, MAX_CHATS);
  const messages: Record<string, Message[]> = {};
  for (const c of chats) {
    const list = s.messages[String(c.id)];
    if (!list) continue;
    const kept = list.slice(-MAX_MESSAGES).flatMap((m) => toMessage(m) ?? []);
    if (kept.length > 0) messages[String(c.id)] = kept;
  }
  return { user: String(user), savedAt: now.toISOString(), chats, messages, peers: s.peers, users: s.users };
}

export function loadSnapshot(user: Id): Snapshot | null {
  const raw = storage()?.getItem(KEY);
  if (!raw) return null;
  try {
    const snap = JSON.parse(raw) as Snapshot;
    return snap.user === String(user) && Array.isArray(snap.chats) ? snap : null;
  } catch {
    return null;
  }
}

export function clearSnapshot(): void {
  storage()?.removeItem(KEY);
}

/** Fill an empty chat store from the saved copy (before the first load from the server). */
export function restoreSnapshot(): void {
  const user = useSession.getState().user;
  const store = useChats.getState();
  if (!user || store.chatsLoaded) return;
  const snap = loadSnapshot(user.id);
  if (!snap) return;
  store.cacheUsers(Object.values(snap.users));
  for (const [chatId, peer] of Object.entries(snap.peers)) store.setPeer(chatId, peer);
  for (const [chatId, list] of Object.entries(snap.messages)) store.mergePage(chatId, list, {});
  store.setChats(snap.chats);
  useOffline.setState({ showingSaved: true });
}

let timer: ReturnType<typeof setTimeout> | null = null;

function save(): void {
  timer = null;
  const user = useSession.getState().user;
  const s = useChats.getState();
  if (!user || !s.chatsLoaded || useOffline.getState().showingSaved) return;
  try {
    storage()?.setItem(KEY, JSON.stringify(takeSnapshot(user.id, s)));
  } catch {
    // storage full or disabled: the app works, only without an offline copy
  }
}

if (typeof window !== "undefined") {
  // Save a second after the store settles, not on every frame.
  useChats.subscribe(() => {
    if (timer === null) timer = setTimeout(save, WRITE_DELAY_MS);
  });
  // Fresh data replaces the saved copy once the connection is live.
  useRealtime.subscribe((s) => {
    if (s.status === "live" && useOffline.getState().showingSaved) {
      useOffline.setState({ showingSaved: false });
      if (timer === null) timer = setTimeout(save, WRITE_DELAY_MS);
    }
  });
  useSession.subscribe((s, before) => {
    if (s.tokens === null && before.tokens !== null) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      clearSnapshot();
      useOffline.setState({ showingSaved: false });
    }
  });
}
