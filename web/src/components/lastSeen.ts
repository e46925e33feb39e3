import { useEffect, useState } from "react";

/** "just now", "5 min ago", "2 h ago", "yesterday at 14:05", "on 3 Mar" (relative to `now`). */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 6 * 3600) return `${Math.floor(s / 3600)} h ago`;
  const d = new Date(t);
  const today = new Date(now);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === today.toDateString()) return `today at ${time}`;
  const yesterday = new Date(now - 86_400_000);
  if (d.toDateString() === yesterday.toDateString()) return `yesterday at ${time}`;
  return `on ${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })}`;
}

/** A presence line: "online", "last seen 5 min ago", or "offline" when the time is hidden or unknown. */
export function presenceText(online: boolean | undefined, lastSeen: string | null | undefined, now: number): string {
  if (online) return "online";
  if (lastSeen) return `last seen ${relativeTime(lastSeen, now)}`;
  return online === false ? "offline" : "";
}

/** The current time, re-rendering every `intervalMs` (relative times stay true). */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
