import { useEffect, useRef, useState, type FormEvent } from "react";
import { describeError } from "../api";
import type { Id } from "../api/types";
import type { ChatMessage } from "../chat/messages";
import { forward } from "../hooks/conversation";
import { useChats } from "../store/chats";
import { chatTitle } from "./chatTitle";

/** Pick one or more chats (with a search) and forward a message to each. */
export function ForwardDialog({ message, onClose }: { message: ChatMessage; onClose: (sentTo: number) => void }) {
  const chats = useChats((s) => s.chats);
  const peers = useChats((s) => s.peers);
  const [query, setQuery] = useState("");
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const canPost = (c: (typeof chats)[number]) => c.kind !== "channel" || c.role === "owner" || c.role === "admin";
  const q = query.trim().toLowerCase();
  const shown = chats
    .filter(canPost)
    .map((c) => ({ chat: c, title: chatTitle(c, peers[String(c.id)]) }))
    .filter(({ title }) => !q || title.toLowerCase().includes(q));

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (chosen.size === 0) return;
    setBusy(true);
    setError(null);
    const targets: Id[] = chats.filter((c) => chosen.has(String(c.id))).map((c) => c.id);
    try {
      const failed = await forward(message, targets);
      if (failed.length > 0) setError(`Could not forward to ${failed.length} of ${targets.length} chats`);
      else onClose(targets.length);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog
      ref={dialog}
      className="forward-dialog"
      aria-labelledby="forward-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose(0);
      }}
    >
      <form onSubmit={(e) => void submit(e)}>
        <h2 id="forward-title">Forward message</h2>
        <label htmlFor="forward-search" className="visually-hidden">
          Search chats
        </label>
        <input
          id="forward-search"
          type="search"
          placeholder="Search chats"
          autoComplete="off"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <ul className="forward-targets" aria-label="Chats">
          {shown.map(({ chat, title }) => {
            const k = String(chat.id);
            return (
              <li key={k}>
                <label>
                  <input
                    type="checkbox"
                    checked={chosen.has(k)}
                    onChange={(e) =>
                      setChosen((s) => {
                        const next = new Set(s);
                        if (e.target.checked) next.add(k);
                        else next.delete(k);
                        return next;
                      })
                    }
                  />{" "}
                  {title}
                </label>
              </li>
            );
          })}
          {shown.length === 0 && <li className="muted small">No chats match</li>}
        </ul>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={() => onClose(0)}>
            Cancel
          </button>
          <button type="submit" disabled={busy || chosen.size === 0}>
            {chosen.size > 1 ? `Forward to ${chosen.size} chats` : "Forward"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
