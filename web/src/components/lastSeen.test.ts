import { describe, expect, it } from "vitest";
import { presenceText, relativeTime } from "./lastSeen";

const NOW = Date.parse("2026-03-10T12:00:00Z");

describe("last seen", () => {
  it("says minutes for the last hour", () => {
    expect(relativeTime("2026-03-10T11:55:00Z", NOW)).toBe("5 min ago");
    expect(relativeTime("2026-03-10T11:59:40Z", NOW)).toBe("just now");
  });

  it("says hours for the last few hours", () => {
    expect(relativeTime("2026-03-10T09:30:00Z", NOW)).toBe("2 h ago");
  });

  it("prefers online over a last-seen time", () => {
    expect(presenceText(true, "2026-03-10T11:55:00Z", NOW)).toBe("online");
    expect(presenceText(false, "2026-03-10T11:55:00Z", NOW)).toBe("last seen 5 min ago");
  });

  it("says offline when the time is hidden or unknown", () => {
    expect(presenceText(false, null, NOW)).toBe("offline");
  });
});
