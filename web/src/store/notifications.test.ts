import { beforeEach, describe, expect, it } from "vitest";
import type { Notification } from "../api/types";
import { useNotifications } from "./notifications";

function note(id: number, read = false): Notification {
  return { id, kind: "mention", chat_id: 1, message_id: 100 + id, created_at: "2026-12-02T10:00:00Z", read };
}

const store = () => useNotifications.getState();

describe("the bell: REST snapshots merged with live frames", () => {
  beforeEach(() => store().reset());

  it("keeps a frame that arrives while an older snapshot is in flight", () => {
    const h = store().beginSnapshot();
    store().received(note(7)); // made after the snapshot's query ran
    store().applyUnread(h, { count: 0, unreadIds: [], complete: true });
    expect(store().unread).toBe(1);
  });

  it("does not count a frame twice when the snapshot already holds it", () => {
    const h = store().beginSnapshot();
    store().received(note(7));
    store().applyUnread(h, { count: 1, unreadIds: [7], complete: true });
    expect(store().unread).toBe(1);
  });

  it("does not count a late frame for a notification the snapshot counted", () => {
    const h = store().beginSnapshot();
    store().applyUnread(h, { count: 2, unreadIds: [7, 6], complete: true });
    store().received(note(7));
    expect(store().unread).toBe(2);
    expect(store().items.map((i) => i.id)).toEqual([7]);
  });

  it("lets the newest snapshot win over an older one landing late", () => {
    const older = store().beginSnapshot();
    const newer = store().beginSnapshot();
    store().applyUnread(newer, { count: 3, unreadIds: [3, 2, 1], complete: true });
    store().applyUnread(older, { count: 0, unreadIds: [], complete: true });
    expect(store().unread).toBe(3);
  });

  it("drops a snapshot begun before a reset", () => {
    const h = store().beginSnapshot();
    store().reset();
    store().applyUnread(h, { count: 5, unreadIds: [1, 2, 3, 4, 5], complete: true });
    expect(store().unread).toBe(0);
  });

  it("keeps items a frame brought while the inbox list loads", () => {
    const h = store().beginSnapshot();
    store().received(note(9));
    store().applyItems(h, [note(8), note(5, true)]);
    expect(store().items.map((i) => i.id)).toEqual([9, 8, 5]);
    expect(store().itemsLoaded).toBe(true);
  });

  it("marks shown items read that a complete snapshot no longer lists", () => {
    store().received(note(4));
    store().received(note(5));
    const h = store().beginSnapshot();
    store().applyUnread(h, { count: 1, unreadIds: [5], complete: true });
    expect(store().unread).toBe(1);
    expect(store().items.map((i) => [i.id, i.read])).toEqual([
      [5, false],
      [4, true],
    ]);
  });
});
