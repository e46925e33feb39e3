import type { ReplyPreview } from "../api/types";
import { quoteLine } from "../chat/conversation";

/** The quote of a replied message; clicking it goes to the original. */
export function ReplyQuote({
  preview,
  senderName,
  onJump,
  tabIndex,
}: {
  preview: ReplyPreview;
  senderName: string;
  onJump: (seq: number) => void;
  tabIndex: number;
}) {
  return (
    <button
      type="button"
      className={`reply-quote${preview.deleted ? " deleted" : ""}`}
      tabIndex={tabIndex}
      onClick={() => onJump(preview.seq)}
      aria-label={`Reply to ${senderName}: ${quoteLine(preview)}. Go to the original`}
    >
      <strong>{senderName}</strong>
      <span>{quoteLine(preview)}</span>
    </button>
  );
}
