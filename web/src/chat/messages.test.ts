import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import {
  applyAck,
  applyDeleted,
  firstGap,
  markFailed,
  markPending,
  mergeMessages,
  newClientMsgId,
  normalize,
  oldestSeq,
  newestSeq,
  optimistic,
  pendingMessages,
  type ChatMessage,
} from "./messages";

function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: 100 + seq,
    chat_id: 1,
    seq,
    sender_id: 2,
    client_msg_id: null,
    text: `m${seq}`,
    reply_to_id: null,
    attachments: [],
    mentions: [],
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    edited_at: null,
    deleted: false,
    ...over,
  };
}

const seqs = (l: ChatMessage[]) => l.map((m) => m.seq);

describe("mergeMessages", () => {
  it("orders confirmed messages by seq whatever order they arrive in", () => {
    const l = mergeMessages([], [msg(3), msg(1), msg(2)].map((m) => normalize(m)));
    expect(seqs(l)).toEqual([1, 2, 3]);
  });

  it("dedupes the same message delivered twice (live frame and replay)", () => {
    const a = mergeMessages([], [normalize(msg(1)), normalize(msg(2))]);
    const b = mergeMessages(a, [normalize(msg(2)), normalize(msg(1)), normalize(msg(3))]);
    expect(seqs(b)).toEqual([1, 2, 3]);
  });

  it("is idempotent and order independent", () => {
    const input = [msg(5), msg(2), msg(9), msg(2), msg(7)].map((m) => normalize(m));
    const one = mergeMessages([], input);
    const two = mergeMessages(mergeMessages([], input.slice().reverse()), input);
    expect(two).toEqual(one);
  });

  it("prepends an older page fetched with before", () => {
    const newest = mergeMessages([], [msg(51), msg(52)].map((m) => normalize(m)));
    const older = mergeMessages(newest, [msg(49), msg(50)].map((m) => normalize(m)));
    expect(seqs(older)).toEqual([49, 50, 51, 52]);
    expect(oldestSeq(older)).toBe(49);
    expect(newestSeq(older)).toBe(52);
  });

  it("keeps the deleted state over a stale copy", () => {
    const deleted = normalize(msg(1, { deleted: true, text: null }));
    const l = mergeMessages([deleted], [normalize(msg(1))]);
    expect(l).toHaveLength(1);
    expect(l[0]?.deleted).toBe(true);
    expect(l[0]?.text).toBeNull();
  });

  it("takes the later edit", () => {
    const edited = normalize(msg(1, { text: "new", edited_at: "2026-01-02T00:00:00Z" }));
    const l = mergeMessages([edited], [normalize(msg(1))]);
    expect(l[0]?.text).toBe("new");
    const l2 = mergeMessages([normalize(msg(1))], [edited]);
    expect(l2[0]?.text).toBe("new");
  });
});

describe("optimistic send", () => {
  const cmid = "0b7c6a0e-1111-4222-8333-444455556666";

  it("shows a pending message after every confirmed one", () => {
    const l = mergeMessages([normalize(msg(1))], [optimistic(1, 7, cmid, "hi")]);
    expect(l.map((m) => m.status)).toEqual(["sent", "pending"]);
    expect(pendingMessages(l)).toHaveLength(1);
  });

  it("turns pending into sent on ack, keeping the render key", () => {
    const pending = optimistic(1, 7, cmid, "hi");
    const l = applyAck([normalize(msg(1)), pending], cmid, msg(2, { sender_id: 7, client_msg_id: cmid, text: "hi" }));
    expect(l).toHaveLength(2);
    expect(l[1]?.status).toBe("sent");
    expect(l[1]?.seq).toBe(2);
    expect(l[1]?.key).toBe(pending.key);
  });

  it("matches an ack whose message lacks client_msg_id", () => {
    const pending = optimistic(1, 7, cmid, "hi");
    const l = applyAck([pending], cmid, msg(2, { sender_id: 7, client_msg_id: null, text: "hi" }));
    expect(l).toHaveLength(1);
    expect(l[0]?.status).toBe("sent");
  });

  it("does not double the message when receive_message arrives before the ack", () => {
    const pending = optimistic(1, 7, cmid, "hi");
    const server = msg(2, { sender_id: 7, client_msg_id: cmid, text: "hi" });
    let l = mergeMessages([pending], [normalize(server)]);
    l = applyAck(l, cmid, server);
    expect(l).toHaveLength(1);
    expect(l[0]?.status).toBe("sent");
  });

  it("does not double the message when receive_message comes after the ack", () => {
    const server = msg(2, { sender_id: 7, client_msg_id: null, text: "hi" });
    let l = applyAck([optimistic(1, 7, cmid, "hi")], cmid, server);
    l = mergeMessages(l, [normalize(server)]);
    expect(l).toHaveLength(1);
  });

  it("marks a failed send and back to pending on retry", () => {
    let l = markFailed([optimistic(1, 7, cmid, "hi")], cmid, "rate_limited");
    expect(l[0]?.status).toBe("failed");
    expect(l[0]?.error).toBe("rate_limited");
    l = markPending(l, cmid);
    expect(l[0]?.status).toBe("pending");
    expect(l[0]?.error).toBeNull();
  });

  it("ignores a failure reported after the message was confirmed", () => {
    const l = applyAck([optimistic(1, 7, cmid, "hi")], cmid, msg(2, { sender_id: 7, client_msg_id: cmid }));
    expect(markFailed(l, cmid, "late")[0]?.status).toBe("sent");
  });

  it("keeps two pending messages in the order they were written", () => {
    const a = optimistic(1, 7, newClientMsgId(), "a", new Date(1000));
    const b = optimistic(1, 7, newClientMsgId(), "b", new Date(2000));
    expect(mergeMessages([], [b, a]).map((m) => m.text)).toEqual(["a", "b"]);
  });
});

describe("helpers", () => {
  it("applies a deletion by id", () => {
    const l = applyDeleted([normalize(msg(1)), normalize(msg(2))], 102, 2);
    expect(l.map((m) => m.deleted)).toEqual([false, true]);
    expect(l[1]?.text).toBeNull();
  });

  it("finds a gap in the loaded range", () => {
    expect(firstGap([msg(1), msg(2), msg(3)].map((m) => normalize(m)))).toBeNull();
    expect(firstGap([msg(1), msg(2), msg(5)].map((m) => normalize(m)))).toBe(2);
  });

  it("makes RFC 4122 v4 ids without crypto.randomUUID", () => {
    const id = newClientMsgId((b) => b.fill(0xff));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newClientMsgId()).not.toBe(newClientMsgId());
  });
});
