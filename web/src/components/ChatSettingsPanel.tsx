import { useEffect, useState } from "react";
import { api, describeError } from "../api";
import type { Chat } from "../api/types";
import { useNotifications } from "../store/notifications";

/** Per-chat notification settings: mute, and (groups, channels) a notification for every message. */
export function ChatSettingsPanel({ chat, onClose }: { chat: Chat; onClose: () => void }) {
  const settings = useNotifications((s) => s.chatSettings[String(chat.id)]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.chats.settings(chat.id).then(
      ({ settings }) => useNotifications.getState().setChatSettings(chat.id, settings),
      (err: unknown) => setError(describeError(err)),
    );
  }, [chat.id]);

  async function change(patch: { muted?: boolean; notify_all?: boolean }) {
    setError(null);
    try {
      const { settings } = await api.chats.updateSettings(chat.id, patch);
      useNotifications.getState().setChatSettings(chat.id, settings);
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <section
      className="chat-settings card"
      aria-labelledby="chat-settings-h"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <h2 id="chat-settings-h">Notifications for this chat</h2>
      {!settings ? (
        <p className="muted small">Loading…</p>
      ) : (
        <>
          <label className="check">
            <input type="checkbox" checked={settings.muted} onChange={(e) => void change({ muted: e.target.checked })} />
            Mute notifications
          </label>
          {chat.kind !== "direct" && (
            <label className="check">
              <input
                type="checkbox"
                checked={settings.notify_all}
                disabled={settings.muted}
                onChange={(e) => void change({ notify_all: e.target.checked })}
              />
              Notify me about every message (not only mentions)
            </label>
          )}
        </>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="button" className="secondary small" onClick={onClose}>
        Done
      </button>
    </section>
  );
}
