import { memo, useEffect, useRef, useState, type FormEvent } from "react";
import type { ChatMessage } from "../chat/messages";
import { Attachment } from "./Attachment";
import { timeLabel } from "./chatTitle";
import { MAX_TEXT } from "./Composer";
import { editRequestHandled, useEditRequest } from "../composer/editLast";
import { RichText } from "./RichText";

export interface MessageActions {
  onRetry: (clientMsgId: string) => void;
  onEdit: (message: ChatMessage, text: string) => Promise<void>;
  onDelete: (message: ChatMessage) => Promise<void>;
}

interface Props {
  message: ChatMessage;
  own: boolean;
  senderName: string;
  showSender: boolean;
  mentionsMe: boolean;
  seen: boolean;
  /** show "Sent"/"Seen" (only on the newest own message; pending/failed always show) */
  showDelivery: boolean;
  /** owners and admins may delete anyone's message */
  canModerate: boolean;
  actions: MessageActions;
  /** the list's one tab stop (roving tabindex): only it, and its buttons, are reached by Tab */
  current?: boolean;
  /** continues a run of messages from the same sender (drawn closer, no repeated name) */
  grouped?: boolean;
  /** the reader's username, to highlight mentions of them */
  myUsername?: string | null;
}

function statusText(m: ChatMessage, seen: boolean): string {
  if (m.status === "pending") return "Sending…";
  if (m.status === "failed") return "Not sent";
  return seen ? "Seen" : "Sent";
}

export const MessageBubble = memo(function MessageBubble({
  message: m,
  own,
  senderName,
  showSender,
  mentionsMe,
  seen,
  showDelivery,
  canModerate,
  actions,
  current = true,
  grouped = false,
  myUsername = null,
}: Props) {
  const tab = current ? 0 : -1;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.text ?? "");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const confirmed = m.status === "sent" && m.id !== null && !m.deleted;
  const canEdit = own && confirmed;
  const canDelete = confirmed && (own || canModerate);

  useEffect(() => {
    if (editing) box.current?.focus();
  }, [editing]);

  // Arrow Up in an empty composer asks the last own message to open its editor
  const editRequested = useEditRequest((s) => s.key === m.key);
  useEffect(() => {
    if (!editRequested) return;
    editRequestHandled();
    if (!canEdit) return;
    fromComposer.current = true;
    setDraft(m.text ?? "");
    setEditing(true);
    box.current?.scrollIntoView({ block: "nearest" });
  }, [editRequested, canEdit, m.text]);

  // an edit started from the composer (Arrow Up) gives focus back to it, like Slack and Telegram
  const fromComposer = useRef(false);

  function close() {
    setEditing(false);
    setError(null);
    const composer = fromComposer.current ? document.querySelector<HTMLTextAreaElement>(".composer textarea") : null;
    fromComposer.current = false;
    (composer ?? editButton.current)?.focus();
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    const text = draft;
    if (!text.trim() || Array.from(text).length > MAX_TEXT) return;
    try {
      await actions.onEdit(m, text);
      close();
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not save");
    }
  }

  async function remove() {
    if (!window.confirm("Delete this message for everyone?")) return;
    try {
      await actions.onDelete(m);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not delete");
    }
  }

  return (
    <li
      className={`message ${own ? "own" : "theirs"} ${m.status}${mentionsMe ? " mentions-me" : ""}${grouped ? " grouped" : ""}`}
      data-seq={m.seq ?? undefined}
      data-status={m.status}
      data-key={m.key}
      tabIndex={tab}
    >
      {showSender && !own ? (
        <span className="sender">
          {senderName}
          {mentionsMe && <span className="visually-hidden"> (mentions you)</span>}
        </span>
      ) : (
        // who wrote it, for screen readers (the live region's announcement, a focused message)
        <span className="visually-hidden">
          {own ? "You" : senderName}
          {mentionsMe ? " (mentions you)" : ""}:{" "}
        </span>
      )}
      <div className="bubble">
        {editing ? (
          <form className="edit" onSubmit={save}>
            <label className="visually-hidden" htmlFor={`edit-${m.key}`}>
              Edit message
            </label>
            <textarea
              id={`edit-${m.key}`}
              ref={box}
              value={draft}
              rows={2}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") close();
                if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) void save(e);
              }}
            />
            <button type="submit" className="small">
              Save
            </button>{" "}
            <button type="button" className="small secondary" onClick={close}>
              Cancel
            </button>
          </form>
        ) : m.deleted ? (
          <em className="muted">Message deleted</em>
        ) : m.text ? (
          <RichText text={m.text} me={myUsername} />
        ) : null}
        {m.attachments.length > 0 && !m.deleted && (
          <ul className="attachments" aria-label="Attachments">
            {m.attachments.map((a) => (
              <Attachment key={String(a.id)} media={a} tabIndex={tab} />
            ))}
          </ul>
        )}
        <span className="meta">
          <time dateTime={m.created_at}>{timeLabel(m.created_at)}</time>
          {m.edited_at && !m.deleted && <span> · edited</span>}
          {own && (showDelivery || m.status !== "sent") && <span className="delivery"> · {statusText(m, seen)}</span>}
        </span>
      </div>
      {!editing && (canEdit || canDelete) && (
        <div className="message-actions">
          {canEdit && (
            <button
              type="button"
              ref={editButton}
              tabIndex={tab}
              className="link small"
              onClick={() => {
                setDraft(m.text ?? "");
                setEditing(true);
              }}
            >
              Edit<span className="visually-hidden"> message</span>
            </button>
          )}
          {canDelete && (
            <button type="button" tabIndex={tab} className="link small" onClick={() => void remove()}>
              Delete<span className="visually-hidden"> message</span>
            </button>
          )}
        </div>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {own && m.status === "failed" && m.client_msg_id && (
        <div className="failed" role="alert">
          <span>{m.error ?? "Not sent"}</span>{" "}
          <button type="button" tabIndex={tab} className="small" onClick={() => actions.onRetry(m.client_msg_id as string)}>
            Retry
          </button>
        </div>
      )}
    </li>
  );
});
