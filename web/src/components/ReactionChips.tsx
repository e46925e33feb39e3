import { useState } from "react";
import { api, describeError } from "../api";
import type { Reaction } from "../api/types";
import type { ChatMessage } from "../chat/messages";
import { react } from "../hooks/conversation";
import { displayName } from "./Avatar";

/** Reaction counts under a message: own ones highlighted, click toggles, hover names who reacted. */
export function ReactionChips({ message, tabIndex }: { message: ChatMessage; tabIndex: number }) {
  const [who, setWho] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  if (message.reactions.length === 0 || message.id === null) return null;
  const id = message.id;

  // names are fetched on hover or focus and kept per count (a new count fetches again)
  async function names(r: Reaction) {
    if (who[`${r.emoji} ${r.count}`] !== undefined) return;
    try {
      const { users, next_cursor } = await api.conversation.reactors(message.chat_id, id, r.emoji);
      const list = users.map((u) => displayName(u)).join(", ");
      setWho((w) => ({ ...w, [`${r.emoji} ${r.count}`]: next_cursor ? `${list} and others` : list }));
    } catch {
      // the tooltip is a nicety; the count stays
    }
  }

  return (
    <div className="reactions">
      <ul aria-label="Reactions">
        {message.reactions.map((r) => (
          <li key={r.emoji}>
            <button
              type="button"
              className={r.me ? "chip-reaction mine" : "chip-reaction"}
              tabIndex={tabIndex}
              aria-pressed={Boolean(r.me)}
              aria-label={`${r.emoji} ${r.count}${r.me ? ", including you" : ""}`}
              title={who[`${r.emoji} ${r.count}`] ?? `${r.count}`}
              onMouseEnter={() => void names(r)}
              onFocus={() => void names(r)}
              onClick={() => {
                setError(null);
                react(message, r.emoji, !r.me).catch((err: unknown) => setError(describeError(err)));
              }}
            >
              <span aria-hidden="true">{r.emoji}</span> <span aria-hidden="true">{r.count}</span>
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
