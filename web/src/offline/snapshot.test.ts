import { describe, expect, it } from "vitest";
import type { Chat, Message } from "../api/types";
import { normalize, optimistic } from "../chat/messages";
import { takeSnapshot } from "./snapshot";

function chat(id: number): Chat {
  return {
    id,
    kind: "group",
    title: `chat ${id}`,
    description: null,
    created_at: "2026-01-01T00:00:00Z",
    member_count: 3,
    role: "member",
    last_message: null,
    last_seq: 0,
    unread_count: 0,
    last_read_seq: 0,
    others_read_seq: 0,
  };
}

function message(chatId: number, seq: number): Message {
  return {
    id: chatId * 1000 + seq,
    chat_id: chatId,
    seq,
    sender_id: 2,
    client_msg_id: null,
    text: `m${seq}`,
    reply_to_id: null,
    attachments: [],
    mentions: [],
    created_at: "2026-01-02T00:00:00Z",
    edited_at: null,
    deleted: false,
    reply_to: null,
    reactions: [],
    forwarded_from: null,
    pinned: false,
  };
}

describe("offline snapshot", () => {
  const chats = Array.from({ length: 40 }, (_, i) => chat(i + 1));
  const list = Array.from({ length: 60 }, (_, i) => normalize(message(1, i + 1)));
  const pending = optimistic(1, 7, "cm-1", "not sent yet");
  const snap = takeSnapshot(7, { chats, messages: { "1": [...list, pending] }, peers: {}, users: {} });

  it("keeps the most recent chats only", () => {
    expect(snap.chats.map((c) => c.id)).toEqual(chats.slice(0, 30).map((c) => c.id));
  });

  it("keeps the newest confirmed messages, as the server sent them", () => {
    const kept = snap.messages["1"] ?? [];
    expect(kept.at(-1)?.seq).toBe(60);
    expect(kept.length).toBeLessThanOrEqual(40);
    expect(kept[0]).toEqual(message(1, kept[0]?.seq ?? 0));
  });

  it("never keeps an unsent message (it would come back as if sent)", () => {
    expect((snap.messages["1"] ?? []).some((m) => m.client_msg_id === "cm-1")).toBe(false);
  });

  it("belongs to one user", () => {
    expect(snap.user).toBe("7");
  });
});
