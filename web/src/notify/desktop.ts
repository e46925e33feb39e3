/**
 * Desktop notifications for mentions and direct messages while the tab is hidden. Permission is
 * asked only from the in-app prompt (never on load); muted chats stay silent; a click focuses
 * the tab and opens the message.
 */
import { api } from "../api";
import type { Chat, Id, Notification as Item } from "../api/types";
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

function bodyOf(chat: Chat | undefined, messageId: Id): string {
  const m = chat?.last_message;
  if (m && sameId(m.id, messageId)) {
    if (m.text) return m.text.length > 140 ? `${m.text.slice(0, 139)}…` : m.text;
    if (m.attachments.length > 0) return "Attachment";
  }
  return "New message";
}

/** A `notification` frame arrived: show it on the desktop if it should be. */
export async function notifyDesktop(item: Item): Promise<void> {
  if (desktopPermission() !== "granted" || document.visibilityState === "visible") return;
  const store = useChats.getState();
  const chat = store.chats.find((c) => sameId(c.id, item.chat_id));
  const direct = chat?.kind === "direct";
  if (item.kind !== "mention" && !direct) return; // mentions and direct messages only
  if (await isMuted(item.chat_id)) return;
  const title = chat ? chatTitle(chat, store.peers[String(chat.id)]) : "messenger";
  const shown = new window.Notification(item.kind === "mention" ? `${title}: you were mentioned` : title, {
    body: bodyOf(chat, item.message_id),
    tag: `message-${String(item.message_id)}`,
  });
  shown.onclick = () => {
    window.focus();
    useNotifications.getState().requestOpen({ chatId: item.chat_id, messageId: item.message_id });
    shown.close();
  };
}
