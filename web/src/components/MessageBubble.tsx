import { memo } from "react";
import type { ChatMessage } from "../chat/messages";
import { timeLabel } from "./chatTitle";

interface Props {
  message: ChatMessage;
  own: boolean;
  senderName: string;
  showSender: boolean;
  seen: boolean;
  /** show "Sent"/"Seen" (only on the newest own message; pending/failed always show) */
  showDelivery: boolean;
  onRetry: (clientMsgId: string) => void;
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
  seen,
  showDelivery,
  onRetry,
}: Props) {
  return (
    <li
      className={`message ${own ? "own" : "theirs"} ${m.status}`}
      data-seq={m.seq ?? undefined}
      data-status={m.status}
      aria-label={own ? undefined : `${senderName}:`}
    >
      {showSender && !own && <span className="sender">{senderName}</span>}
      <div className="bubble">
        {m.deleted ? <em className="muted">Message deleted</em> : <p className="text">{m.text}</p>}
        {m.attachments.length > 0 && !m.deleted && (
          <ul className="attachments">
            {m.attachments.map((a) => (
              <li key={String(a.id)}>📎 {a.filename}</li>
            ))}
          </ul>
        )}
        <span className="meta">
          <time dateTime={m.created_at}>{timeLabel(m.created_at)}</time>
          {m.edited_at && !m.deleted && <span> · edited</span>}
          {own && (showDelivery || m.status !== "sent") && <span className="delivery"> · {statusText(m, seen)}</span>}
        </span>
      </div>
      {own && m.status === "failed" && m.client_msg_id && (
        <div className="failed" role="alert">
          <span>{m.error ?? "Not sent"}</span>{" "}
          <button type="button" className="small" onClick={() => onRetry(m.client_msg_id as string)}>
            Retry
          </button>
        </div>
      )}
    </li>
  );
});
