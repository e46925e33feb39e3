import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, describeError } from "../api";
import type { Notification } from "../api/types";
import { sameId } from "../api/types";
import { useChats } from "../store/chats";
import { loadItems, syncUnread } from "../notify/inbox";
import { useNotifications } from "../store/notifications";
import { chatTitle } from "./chatTitle";
import { relativeTime, useNow } from "./lastSeen";

export function openPath(chatId: string | number, messageId: string | number | null): string {
  const base = `/chats/${encodeURIComponent(String(chatId))}`;
  return messageId === null ? base : `${base}?message=${encodeURIComponent(String(messageId))}`;
}

/** The bell with the unread count, and the inbox it opens: mentions and messages, newest first. */
export function NotificationsInbox() {
  const unread = useNotifications((s) => s.unread);
  const items = useNotifications((s) => s.items);
  const loaded = useNotifications((s) => s.itemsLoaded);
  const chats = useChats((s) => s.chats);
  const peers = useChats((s) => s.peers);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const bell = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const now = useNow();

  // the count at once; the socket's `ready` takes another snapshot once frames flow
  useEffect(() => {
    void syncUnread();
  }, []);

  useEffect(() => {
    if (!open) return;
    setError(null);
    loadItems().catch((err: unknown) => setError(describeError(err)));
    panel.current?.focus();
  }, [open]);

  function close() {
    setOpen(false);
    bell.current?.focus();
  }

  async function openItem(n: Notification) {
    setOpen(false);
    if (!n.read) {
      useNotifications.getState().markRead([n.id]);
      api.notifications.markRead({ ids: [Number(n.id)] }).catch(() => undefined);
    }
    navigate(openPath(n.chat_id, n.message_id));
  }

  async function markAll() {
    useNotifications.getState().markAllRead();
    try {
      await api.notifications.markRead({ all: true });
    } catch (err) {
      setError(describeError(err));
    }
  }

  function label(n: Notification): string {
    const chat = chats.find((c) => sameId(c.id, n.chat_id));
    const title = chat ? chatTitle(chat, peers[String(chat.id)]) : "a chat";
    return n.kind === "mention" ? `Mentioned you in ${title}` : `New message in ${title}`;
  }

  return (
    <div className="inbox">
      <button
        type="button"
        ref={bell}
        className="secondary bell"
        aria-expanded={open}
        aria-haspopup="dialog"
        aria-label={`Notifications${unread > 0 ? `, ${unread} unread` : ""}`}
        onClick={() => setOpen((v) => !v)}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
          />
        </svg>
        {unread > 0 && (
          <span className="badge" aria-hidden="true" data-testid="inbox-badge">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && (
        <div
          className="inbox-panel card"
          role="dialog"
          aria-label="Notifications"
          tabIndex={-1}
          ref={panel}
          onKeyDown={(e) => {
            if (e.key === "Escape") close();
          }}
        >
          <div className="inbox-head">
            <h2>Notifications</h2>
            <button type="button" className="link small" onClick={() => void markAll()} disabled={unread === 0}>
              Mark all read
            </button>
          </div>
          {error && (
            <p className="field-error" role="alert">
              {error}
            </p>
          )}
          {!loaded ? (
            <p className="muted small">Loading…</p>
          ) : items.length === 0 ? (
            <p className="muted small">No notifications yet. Mentions and direct messages show up here.</p>
          ) : (
            <ul className="inbox-list">
              {items.map((n) => (
                <li key={String(n.id)}>
                  <button type="button" className={`inbox-item${n.read ? "" : " unread"}`} onClick={() => void openItem(n)}>
                    <span className="inbox-kind">{label(n)}</span>
                    <time className="muted small" dateTime={n.created_at}>
                      {relativeTime(n.created_at, now)}
                    </time>
                    {!n.read && <span className="visually-hidden"> (unread)</span>}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
