/** Day separators and sender runs in the message list (pure; unit-tested). */

/** Messages closer than this, from one sender on one day, are drawn as one run. */
export const RUN_GAP_MS = 5 * 60_000;

interface Stamped {
  sender_id: string | number;
  created_at: string;
}

export function dayKey(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", a weekday within the last week, else the date (with the year if not this one). */
export function dayLabel(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const startOf = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(d)) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return d.toLocaleDateString(undefined, { weekday: "long" });
  return d.toLocaleDateString(undefined, {
    weekday: "long",
    month: "long",
    day: "numeric",
    ...(d.getFullYear() === now.getFullYear() ? {} : { year: "numeric" }),
  });
}

/** Whether `m` continues the run of `prev` (same sender, same day, a few minutes apart). */
export function continuesRun(prev: Stamped | undefined, m: Stamped): boolean {
  if (!prev || String(prev.sender_id) !== String(m.sender_id)) return false;
  if (dayKey(prev.created_at) !== dayKey(m.created_at)) return false;
  const gap = new Date(m.created_at).getTime() - new Date(prev.created_at).getTime();
  return gap >= 0 && gap < RUN_GAP_MS;
}
