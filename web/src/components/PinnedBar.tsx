import { useEffect, useState } from "react";
import type { Id } from "../api/types";
import { quoteLine } from "../chat/conversation";
import { loadPins } from "../hooks/conversation";
import { usePins } from "../store/pins";

const NONE: never[] = [];

/**
 * The chat's pins under the header: the latest first; each click goes to the one shown and then
 * shows the next (cycling), like Telegram's pinned bar.
 */
export function PinnedBar({ chatId, onJump }: { chatId: Id; onJump: (seq: number) => void }) {
  const pins = usePins((s) => s.pins[String(chatId)] ?? NONE);
  const [index, setIndex] = useState(0);

  useEffect(() => {
    void loadPins(chatId).catch(() => undefined);
  }, [chatId]);
  useEffect(() => setIndex(0), [pins]);

  if (pins.length === 0) return null;
  const shown = pins[index % pins.length];
  if (!shown) return null;
  const line = quoteLine({ text: shown.text, deleted: shown.deleted, has_attachments: shown.attachments.length > 0 });
  return (
    <div className="pinned-bar">
      <button
        type="button"
        onClick={() => {
          onJump(shown.seq);
          setIndex((i) => (i + 1) % pins.length);
        }}
        aria-label={`Pinned message ${(index % pins.length) + 1} of ${pins.length}: ${line}. Go to it`}
      >
        <span aria-hidden="true">📌</span>
        <span className="pinned-label">
          {pins.length > 1 ? `Pinned ${(index % pins.length) + 1}/${pins.length}` : "Pinned"}
        </span>
        <span className="pinned-text">{line}</span>
      </button>
    </div>
  );
}
