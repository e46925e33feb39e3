import { describe, expect, it } from "vitest";
import type { Chat, Message } from "../api/types";
import {
  advanceMarker,
  applyChatUpdated,
  applyIncomingMessage,
  applyOthersRead,
  applyOwnRead,
  sortChats,
  totalUnread,
  upsertChats,
} from "./chats";

function chat(id: number, over: Partial<Chat> = {}): Chat {
  return {
    id,
    kind: "direct",
    title: null,
    description: null,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, id)).toISOString(),
    member_count: 2,
    role: "member",
    last_message: null,
    last_seq: 0,
    unread_count: 0,
    last_read_seq: 0,
    others_read_seq: 0,
    ...over,
  };
}

function message(chatId: number, seq: number, sender = 2): Message {
  return {
    id: chatId * 1000 + seq,
    chat_id: chatId,
    seq,
    sender_id: sender,
    client_msg_id: null,
    text: "x",
    reply_to_id: null,
    attachments: [],
    mentions: [],
    created_at: new Date(Date.UTC(2026, 0, 2, 0, 0, seq)).toISOString(),
    edited_at: null,
    deleted: false,
  };
}

describe("chat list", () => {
  it("puts the chat with the newest message first", () => {
    const list = sortChats([chat(1), chat(2), chat(3)]);
    expect(list.map((c) => c.id)).toEqual([3, 2, 1]);
    const { chats } = applyIncomingMessage(list, message(1, 1), { me: 9, viewing: null });
    expect(chats.map((c) => c.id)).toEqual([1, 3, 2]);
  });

  it("counts unread messages from others once, even when replayed", () => {
    let chats = [chat(1)];
    for (const m of [message(1, 1), message(1, 2), message(1, 2), message(1, 1)]) {
      chats = applyIncomingMessage(chats, m, { me: 9, viewing: null }).chats;
    }
    expect(chats[0]?.unread_count).toBe(2);
    expect(totalUnread(chats)).toBe(2);
  });

  it("does not count own messages or messages of the open chat", () => {
    let chats = [chat(1), chat(2)];
    chats = applyIncomingMessage(chats, message(1, 1, 9), { me: 9, viewing: null }).chats;
    chats = applyIncomingMessage(chats, message(2, 1), { me: 9, viewing: 2 }).chats;
    expect(totalUnread(chats)).toBe(0);
  });

  it("reports an unknown chat so the caller can fetch it", () => {
    expect(applyIncomingMessage([chat(1)], message(5, 1), { me: 9, viewing: null }).known).toBe(false);
  });

  it("clears unread up to our read marker", () => {
    const chats = applyOwnRead([chat(1, { last_seq: 10, unread_count: 4 })], 1, 8);
    expect(chats[0]?.unread_count).toBe(2);
  });

  it("does not let a stale chat_updated roll back the last message", () => {
    const live = applyIncomingMessage([chat(1)], message(1, 3), { me: 9, viewing: null }).chats;
    const merged = upsertChats(live, [chat(1, { title: "renamed", last_seq: 2 })]);
    expect(merged[0]?.title).toBe("renamed");
    expect(merged[0]?.last_seq).toBe(3);
  });

  it("keeps our role and unread count when a shared chat_updated arrives", () => {
    const mine = [chat(1, { role: "owner", unread_count: 3, last_seq: 3 })];
    const { chats, known } = applyChatUpdated(mine, chat(1, { title: "New name", role: null, unread_count: 0, last_seq: 3 }));
    expect(known).toBe(true);
    expect(chats[0]).toMatchObject({ title: "New name", role: "owner", unread_count: 3 });
  });

  it("keeps read markers when a shared chat_updated carries lower floors", () => {
    const mine = [chat(1, { last_read_seq: 4, others_read_seq: 3, last_seq: 4 })];
    const { chats } = applyChatUpdated(mine, chat(1, { title: "x", last_seq: 4, last_read_seq: 1, others_read_seq: 2 }));
    expect(chats[0]).toMatchObject({ last_read_seq: 4, others_read_seq: 3 });
  });

  it("moves read markers up to a shared chat_updated's floors (and the unread count down)", () => {
    const mine = [chat(1, { last_read_seq: 1, others_read_seq: 1, unread_count: 5, last_seq: 6 })];
    const { chats } = applyChatUpdated(mine, chat(1, { last_seq: 6, last_read_seq: 4, others_read_seq: 5 }));
    expect(chats[0]).toMatchObject({ last_read_seq: 4, others_read_seq: 5, unread_count: 2 });
  });

  it("moves others_read_seq with a peer's message and a peer's read marker", () => {
    let chats = applyIncomingMessage([chat(1, { last_seq: 2 })], message(1, 3, 2), { me: 9, viewing: null }).chats;
    expect(chats[0]?.others_read_seq).toBe(3);
    chats = applyOthersRead(chats, 1, 2);
    expect(chats[0]?.others_read_seq).toBe(3);
    chats = applyOthersRead(chats, 1, 5);
    expect(chats[0]?.others_read_seq).toBe(5);
  });

  it("does not let a stale REST copy move read markers back", () => {
    const live = [chat(1, { last_read_seq: 7, others_read_seq: 6, last_seq: 7 })];
    const merged = upsertChats(live, [chat(1, { last_read_seq: 5, others_read_seq: 2, last_seq: 7 })]);
    expect(merged[0]).toMatchObject({ last_read_seq: 7, others_read_seq: 6 });
  });

  it("reports a chat_updated for a chat we do not have yet", () => {
    expect(applyChatUpdated([], chat(2)).known).toBe(false);
  });

  it("moves read markers forward only", () => {
    const m = advanceMarker(advanceMarker({}, 2, 5), 2, 3);
    expect(m).toEqual({ "2": 5 });
  });
});
