import { describe, expect, it } from "vitest";
import { continuesRun, dayKey, dayLabel } from "./timeline";

const now = new Date(2026, 5, 17, 15, 0); // Wednesday 17 June 2026, local time
const at = (day: number, h: number, m = 0, month = 5, year = 2026) => new Date(year, month, day, h, m).toISOString();

describe("day separators", () => {
  it("names today, yesterday and the last week's days", () => {
    expect(dayLabel(at(17, 0, 1), now)).toBe("Today");
    expect(dayLabel(at(16, 23, 59), now)).toBe("Yesterday");
    expect(dayLabel(at(14, 9), now)).toBe(new Date(2026, 5, 14).toLocaleDateString(undefined, { weekday: "long" }));
  });

  it("gives older dates in full, with the year only when it differs", () => {
    expect(dayLabel(at(1, 9), now)).not.toMatch(/2026/);
    expect(dayLabel(at(1, 9, 0, 11, 2025), now)).toMatch(/2025/);
  });

  it("splits days at local midnight", () => {
    expect(dayKey(at(16, 23, 59))).not.toBe(dayKey(at(17, 0, 0)));
    expect(dayKey(at(17, 0, 0))).toBe(dayKey(at(17, 23, 59)));
  });
});

describe("sender runs", () => {
  it("joins one sender's messages a few minutes apart", () => {
    expect(continuesRun({ sender_id: 1, created_at: at(17, 9, 0) }, { sender_id: 1, created_at: at(17, 9, 4) })).toBe(true);
  });

  it("breaks on another sender, a long pause, or a new day", () => {
    expect(continuesRun({ sender_id: 1, created_at: at(17, 9) }, { sender_id: 2, created_at: at(17, 9) })).toBe(false);
    expect(continuesRun({ sender_id: 1, created_at: at(17, 9) }, { sender_id: 1, created_at: at(17, 9, 6) })).toBe(false);
    expect(continuesRun({ sender_id: 1, created_at: at(16, 23, 58) }, { sender_id: 1, created_at: at(17, 0, 1) })).toBe(false);
    expect(continuesRun(undefined, { sender_id: 1, created_at: at(17, 9) })).toBe(false);
  });

  it("compares ids as opaque values", () => {
    expect(continuesRun({ sender_id: "1", created_at: at(17, 9) }, { sender_id: 1, created_at: at(17, 9, 1) })).toBe(true);
  });
});
