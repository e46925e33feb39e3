import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { recentEmoji } from "../hooks/conversation";
import { useFlipUp } from "./flip";

/** Shown before anything was used in this browser, and after the recents. */
const FREQUENT = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥", "👏", "😁", "🤔", "👀", "✅", "💯", "🙌", "😍"];
const SHOWN = 48;
// Emoji newer than this may be unknown to the server's emoji data: the picker leaves them out.
const NEWEST_VERSION = 15.1;

interface EmojiInfo {
  name: string;
  emoji_version: string;
}

let table: Promise<[string, string][]> | null = null;

/** The Unicode emoji names, loaded on first search (a separate chunk, not in the initial JS). */
function emojiNames(): Promise<[string, string][]> {
  table ??= import("unicode-emoji-json").then((mod) => {
    const data = (mod.default ?? mod) as Record<string, EmojiInfo>;
    return Object.entries(data)
      .filter(([, info]) => Number.parseFloat(info.emoji_version) <= NEWEST_VERSION)
      .map(([emoji, info]) => [emoji, info.name.toLowerCase()] as [string, string]);
  });
  return table;
}

interface Props {
  onPick: (emoji: string) => void;
  onClose: () => void;
}

/** A small picker: recent and frequent emoji, and a search box over the Unicode emoji names. */
export function ReactionPicker({ onPick, onClose }: Props) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<string[] | null>(null);
  const box = useRef<HTMLInputElement>(null);
  const root = useRef<HTMLDivElement>(null);
  const up = useFlipUp(root, true);
  const quick = [...new Set([...recentEmoji(), ...FREQUENT])].slice(0, 24);

  useEffect(() => box.current?.focus(), []);

  useEffect(() => {
    const q = query.trim().toLowerCase();
    if (!q) {
      setFound(null);
      return;
    }
    let live = true;
    void emojiNames().then((names) => {
      if (!live) return;
      const words = q.split(/\s+/);
      setFound(names.filter(([, name]) => words.every((w) => name.includes(w))).slice(0, SHOWN).map(([e]) => e));
    });
    return () => {
      live = false;
    };
  }, [query]);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
      return;
    }
    const target = e.target as HTMLElement;
    if (!target.matches(".emoji-grid button")) return;
    const buttons = Array.from(e.currentTarget.querySelectorAll<HTMLButtonElement>(".emoji-grid button"));
    const i = buttons.indexOf(target as HTMLButtonElement);
    const step: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 };
    if (e.key in step) {
      e.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, i + (step[e.key] ?? 0)))]?.focus();
    }
  }

  const shown = found ?? quick;
  return (
    <div
      ref={root}
      className={up ? "reaction-picker up" : "reaction-picker"}
      role="dialog"
      aria-label="Add a reaction"
      onKeyDown={onKeyDown}
    >
      <label className="visually-hidden" htmlFor="emoji-search">
        Search emoji
      </label>
      <input
        id="emoji-search"
        ref={box}
        type="search"
        placeholder="Search emoji"
        value={query}
        autoComplete="off"
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && shown[0]) {
            e.preventDefault();
            onPick(shown[0]);
          }
        }}
      />
      {found !== null && found.length === 0 ? (
        <p className="muted small">No emoji found</p>
      ) : (
        <div className="emoji-grid" role="group" aria-label={found ? "Search results" : "Recent and frequent"}>
          {shown.map((emoji) => (
            <button key={emoji} type="button" aria-label={`React with ${emoji}`} onClick={() => onPick(emoji)}>
              {emoji}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
