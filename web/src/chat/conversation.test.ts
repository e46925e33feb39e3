import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { applyReactions, followOriginal, keepKnown, toggleOwn } from "./conversation";
import { normalize } from "./messages";

function message(id: number, extra: Partial<Message> = {}): Message {
  return {
    id,
    chat_id: 1,
    seq: id,
    sender_id: 2,
    client_msg_id: null,
    text: `m${id}`,
    reply_to_id: null,
    attachments: [],
    mentions: [],
    created_at: "2026-01-02T00:00:00Z",
    edited_at: null,
    deleted: false,
    ...extra,
  };
}

describe("reactions", () => {
  it("take counts from the frame and `me` from our own changes only", () => {
    const list = [normalize(message(1, { reactions: [{ emoji: "👍", count: 1, me: true }] }))];
    const other = applyReactions(list, { message_id: 1, user_id: 9, emoji: "🎉", added: true, reactions: [{ emoji: "👍", count: 1 }, { emoji: "🎉", count: 1 }] }, 2);
    expect(other[0]?.reactions).toEqual([{ emoji: "👍", count: 1, me: true }, { emoji: "🎉", count: 1, me: false }]);
    const mine = applyReactions(other, { message_id: 1, user_id: 2, emoji: "👍", added: false, reactions: [{ emoji: "🎉", count: 1 }] }, 2);
    expect(mine[0]?.reactions).toEqual([{ emoji: "🎉", count: 1, me: false }]);
  });

  it("a click shows at once and a second click undoes it", () => {
    const list = [normalize(message(1))];
    const on = toggleOwn(list, 1, "🔥", true);
    expect(on[0]?.reactions).toEqual([{ emoji: "🔥", count: 1, me: true }]);
    expect(toggleOwn(on, 1, "🔥", false)[0]?.reactions).toEqual([]);
  });

  it("a frame's copy of a message keeps what we know of our own reactions", () => {
    const known = normalize(message(1, { reactions: [{ emoji: "👍", count: 2, me: true }] }));
    const fromFrame = normalize(message(1, { text: "edited", reactions: [{ emoji: "👍", count: 2, me: false }] }));
    expect(keepKnown(known, fromFrame).reactions).toEqual([{ emoji: "👍", count: 2, me: true }]);
  });
});

describe("reply quotes", () => {
  it("follow the original's edit and deletion", () => {
    const reply = normalize(message(2, { reply_to_id: 1, reply_to: { id: 1, seq: 1, sender_id: 2, text: "old", deleted: false, has_attachments: false } }));
    const edited = followOriginal([reply], { id: 1, text: "new", deleted: false });
    expect(edited[0]?.reply_to?.text).toBe("new");
    const gone = followOriginal(edited, { id: 1, text: null, deleted: true });
    expect(gone[0]?.reply_to).toMatchObject({ text: null, deleted: true });
  });
});
