import { memo, useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from "react";
import { describeError } from "../api";
import type { ChatMessage } from "../chat/messages";
import { pin, react } from "../hooks/conversation";
import { Attachment } from "./Attachment";
import { timeLabel } from "./chatTitle";
import { MAX_TEXT } from "./Composer";
import { editRequestHandled, useEditRequest } from "../composer/editLast";
import { MessageMenu, type MenuItem } from "./MessageMenu";
import { ReactionChips } from "./ReactionChips";
import { ReactionPicker } from "./ReactionPicker";
import { ReplyQuote } from "./ReplyQuote";
import { RichText } from "./RichText";
import "./conversation.css";

export interface MessageActions {
  onRetry: (clientMsgId: string) => void;
  onEdit: (message: ChatMessage, text: string) => Promise<void>;
  onDelete: (message: ChatMessage) => Promise<void>;
  onReply: (message: ChatMessage) => void;
  onForward: (message: ChatMessage) => void;
  onJump: (seq: number) => void;
}

const LONG_PRESS_MS = 500;

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
  /** owners and admins pin, and both members of a direct chat */
  canPin: boolean;
  /** the name shown on this message's reply quote */
  replySenderName: string;
  actions: MessageActions;
  /** the list's one tab stop (roving tabindex): only it, and its buttons, are reached by Tab */
  current?: boolean;
  /** continues a run of messages from the same sender (drawn closer, no repeated name) */
  grouped?: boolean;
  /** the reader's username, to highlight mentions of them */
  myUsername?: string | null;
  /** replaces "Sent"/"Seen" on a sent message (groups: "Seen by N") */
  receipt?: ReactNode;
  /** opened from the inbox or a notification: drawn highlighted */
  highlighted?: boolean;
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
  canPin,
  replySenderName,
  actions,
  current = true,
  grouped = false,
  myUsername = null,
  receipt,
  highlighted = false,
}: Props) {
  const tab = current ? 0 : -1;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.text ?? "");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  const confirmed = m.status === "sent" && m.id !== null && !m.deleted;
  const canEdit = own && confirmed;
  const canDelete = confirmed && (own || canModerate);
  const [menuOpen, setMenuOpen] = useState(false);
  const [picking, setPicking] = useState(false);
  const item = useRef<HTMLLIElement>(null);
  const press = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pressed = useRef(false);

  const menuItems: MenuItem[] = [];
  if (confirmed) {
    menuItems.push({ id: "reply", label: "Reply", onSelect: () => actions.onReply(m) });
    menuItems.push({ id: "react", label: "React", onSelect: () => setPicking(true) });
    menuItems.push({ id: "forward", label: "Forward", onSelect: () => actions.onForward(m) });
    if (canPin) {
      menuItems.push({
        id: "pin",
        label: m.pinned ? "Unpin" : "Pin",
        onSelect: () => {
          pin(m, !m.pinned).catch((err: unknown) => setError(describeError(err)));
          item.current?.focus();
        },
      });
    }
    if (canEdit) {
      menuItems.push({
        id: "edit",
        label: "Edit",
        onSelect: () => {
          setDraft(m.text ?? "");
          setEditing(true);
        },
      });
    }
    menuItems.push({
      id: "copy",
      label: "Copy link",
      onSelect: () => {
        const link = `${location.origin}/chats/${encodeURIComponent(String(m.chat_id))}#m${m.seq ?? ""}`;
        navigator.clipboard?.writeText(link).catch(() => setError("Could not copy the link"));
        item.current?.focus();
      },
    });
    if (canDelete) menuItems.push({ id: "delete", label: "Delete", danger: true, onSelect: () => void remove() });
  }

  function openMenu() {
    if (menuItems.length > 0 && !editing) setMenuOpen(true);
  }

  function onItemKeyDown(e: KeyboardEvent<HTMLLIElement>) {
    if (e.target !== e.currentTarget) return;
    if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey)) {
      e.preventDefault();
      openMenu();
    }
  }

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
    (composer ?? item.current)?.focus();
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
    if (!window.confirm("Delete this message for everyone?")) {
      item.current?.focus();
      return;
    }
    try {
      await actions.onDelete(m);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not delete");
    }
  }

  return (
    <li
      className={`message ${own ? "own" : "theirs"} ${m.status}${mentionsMe ? " mentions-me" : ""}${grouped ? " grouped" : ""}${highlighted ? " highlighted" : ""}`}
      data-seq={m.seq ?? undefined}
      data-id={m.id ?? undefined}
      data-status={m.status}
      data-key={m.key}
      tabIndex={tab}
      ref={item}
      onKeyDown={onItemKeyDown}
      onContextMenu={(e) => {
        if (menuItems.length === 0 || (e.target as HTMLElement).closest("a, textarea, input")) return;
        e.preventDefault();
        openMenu();
      }}
      onTouchStart={() => {
        pressed.current = false;
        press.current = setTimeout(() => {
          pressed.current = true;
          openMenu();
        }, LONG_PRESS_MS);
      }}
      onTouchEnd={(e) => {
        if (press.current !== null) clearTimeout(press.current);
        // the finger lifting after a long press must not also tap the menu item now under it
        if (pressed.current) e.preventDefault();
      }}
      onTouchMove={() => press.current !== null && clearTimeout(press.current)}
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
        {m.forwarded_from && !m.deleted && (
          <p className="forwarded">Forwarded from {m.forwarded_from.sender_name}</p>
        )}
        {m.reply_to && !m.deleted && (
          <ReplyQuote preview={m.reply_to} senderName={replySenderName} onJump={actions.onJump} tabIndex={tab} />
        )}
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
          {own && (showDelivery || m.status !== "sent") && (
            <span className="delivery"> · {receipt && m.status === "sent" ? receipt : statusText(m, seen)}</span>
          )}
        </span>
      </div>
      {!m.deleted && <ReactionChips message={m} tabIndex={tab} />}
      {!editing && menuItems.length > 0 && (
        <MessageMenu
          items={menuItems}
          open={menuOpen}
          onOpenChange={setMenuOpen}
          returnFocus={() => item.current?.focus()}
          tabIndex={tab}
          label="Message actions"
        />
      )}
      {picking && (
        <ReactionPicker
          onClose={() => {
            setPicking(false);
            item.current?.focus();
          }}
          onPick={(emoji) => {
            setPicking(false);
            item.current?.focus();
            const mine = m.reactions.find((r) => r.emoji === emoji)?.me ?? false;
            react(m, emoji, !mine).catch((err: unknown) => setError(describeError(err)));
          }}
        />
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
