/**
 * Desktop notifications for mentions and direct messages while the tab is hidden. Permission is
 * asked only from the in-app prompt (never on load); muted chats stay silent; a click focuses
 * the tab and opens the message.
 */
import { api } from "../api";
import type { Chat, Id, Message } from "../api/types";
import { sameId } from "../api/types";
import { chatTitle } from "../components/chatTitle";
import { useChats } from "../store/chats";
import { useNotifications } from "../store/notifications";

const DISMISSED_KEY = "messenger.desktopPromptDismissed";

export type DesktopPermission = "unsupported" | NotificationPermission;

export function desktopPermission(): DesktopPermission {
  return typeof window !== "undefined" && "Notification" in window ? window.Notification.permission : "unsupported";
}

export function promptDismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED_KEY) === "1";
  } catch {
    return false;
  }
}

export function dismissPrompt(): void {
  try {
    localStorage.setItem(DISMISSED_KEY, "1");
  } catch {
    // private mode: the prompt comes back next time, which is harmless
  }
}

export async function requestDesktopPermission(): Promise<DesktopPermission> {
  if (desktopPermission() === "unsupported") return "unsupported";
  return window.Notification.requestPermission();
}

/** Whether the chat is muted, from the cache or the server (once per chat). */
async function isMuted(chatId: Id): Promise<boolean> {
  const cached = useNotifications.getState().chatSettings[String(chatId)];
  if (cached) return cached.muted;
  try {
    const { settings } = await api.chats.settings(chatId);
    useNotifications.getState().setChatSettings(chatId, settings);
    return settings.muted;
  } catch {
    return false;
  }
}

// A replay after a reconnect brings older messages again: only fresh ones notify.
const FRESH_MS = 120_000;

function bodyOf(m: Message): string {
  if (m.text) return m.text.length > 140 ? `${m.text.slice(0, 139)}…` : m.text;
  return m.attachments.length > 0 ? "Attachment" : "New message";
}

/**
 * A message arrived over the socket: notify on the desktop if the tab is hidden, it is a direct
 * message or mentions us, and the chat is not muted. (The server's `notification` frames do not
 * cover direct messages to online users, who get the message itself.)
 */
export async function notifyDesktop(m: Message, me: Id | null): Promise<void> {
  if (desktopPermission() !== "granted" || document.visibilityState === "visible") return;
  if (sameId(m.sender_id, me) || m.deleted || Date.now() - Date.parse(m.created_at) > FRESH_MS) return;
  const store = useChats.getState();
  const chat: Chat | undefined = store.chats.find((c) => sameId(c.id, m.chat_id));
  const mention = m.mentions.some((u) => sameId(u, me));
  if (!mention && chat?.kind !== "direct") return;
  if (await isMuted(m.chat_id)) return;
  const title = chat ? chatTitle(chat, store.peers[String(chat.id)]) : "messenger";
  const shown = new window.Notification(mention && chat?.kind !== "direct" ? `${title}: you were mentioned` : title, {
    body: bodyOf(m),
    tag: `message-${String(m.id)}`,
  });
  shown.onclick = () => {
    window.focus();
    useNotifications.getState().requestOpen({ chatId: m.chat_id, messageId: m.id });
    shown.close();
  };
}
