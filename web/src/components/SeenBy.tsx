import { useEffect, useId, useRef, useState } from "react";
import type { User } from "../api/types";
import { displayName } from "./Avatar";

/** "Seen by N" under the newest own message of a group; opens the list of who read it. */
export function SeenBy({ readers, users }: { readers: string[]; users: Record<string, User> }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const listId = useId();
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setOpen(false);
        button.current?.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
  if (readers.length === 0) return <>Sent</>;
  return (
    <span className="seen-by">
      <button
        type="button"
        ref={button}
        className="link small"
        aria-expanded={open}
        aria-controls={listId}
        onClick={() => setOpen((v) => !v)}
      >
        Seen by {readers.length}
      </button>
      {open && (
        <ul id={listId} className="seen-by-list" aria-label="Seen by">
          {readers.map((id) => (
            <li key={id}>{displayName(users[id])}</li>
          ))}
        </ul>
      )}
    </span>
  );
}
