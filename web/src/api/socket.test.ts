import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "./types";
import { RealtimeSocket } from "./socket";

// A scripted peer in place of the browser's WebSocket (node has none): it records what the
// client sends and lets the test play the server's frames and closes.
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000) {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code });
  }
  // server side
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  frame(f: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code = 1006) {
    this.close(code);
  }
}

const message = (seq: number) => ({ id: seq, chat_id: 1, seq, sender_id: 2, text: `m${seq}` });

function setup() {
  const frames: ServerFrame[] = [];
  const statuses: string[] = [];
  let ended = 0;
  let reloads = 0;
  let resends = 0;
  const socket = new RealtimeSocket({
    url: "ws://test/v1/ws",
    token: async () => "tok",
    refresh: async () => "tok2",
    onFrame: (f) => frames.push(f),
    onStatus: (s) => statuses.push(s),
    onReload: () => reloads++,
    onResendPending: () => resends++,
    onSessionEnded: () => ended++,
  });
  return { socket, frames, statuses, get ended() { return ended; }, get reloads() { return reloads; }, get resends() { return resends; } };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe("RealtimeSocket", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("authenticates with the first frame and resumes from the given cursor", async () => {
    const t = setup();
    t.socket.start("10");
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    await flush();
    expect(ws.sent[0]).toEqual({ type: "auth", token: "tok" });
    ws.frame({ type: "ready", user_id: 1, cursor: "12" });
    expect(ws.sent[1]).toEqual({ type: "resume", cursor: "10" });
    expect(t.socket.status).toBe("live");
    expect(t.resends).toBe(1);
  });

  it("reconnects after a drop and resumes from the last event it applied", async () => {
    const t = setup();
    t.socket.start("1");
    const first = FakeSocket.all[0] as FakeSocket;
    first.open();
    await flush();
    first.frame({ type: "ready", user_id: 1, cursor: "1" });
    first.frame({ type: "receive_message", cursor: "7", message: message(1) });
    first.frame({ type: "receive_message", cursor: "9", message: message(2) });
    first.drop();
    expect(t.socket.status).toBe("backoff");
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeSocket.all[1] as FakeSocket;
    second.open();
    await flush();
    second.frame({ type: "ready", user_id: 1, cursor: "9" });
    expect(second.sent).toEqual([
      { type: "auth", token: "tok" },
      { type: "resume", cursor: "9" },
    ]);
    expect(t.frames.filter((f) => f.type === "receive_message")).toHaveLength(2);
  });

  it("refreshes the token on close 4001 and connects again", async () => {
    const t = setup();
    t.socket.start("1");
    const first = FakeSocket.all[0] as FakeSocket;
    first.open();
    await flush();
    first.drop(4001);
    await flush();
    expect(FakeSocket.all).toHaveLength(2);
    expect(t.ended).toBe(0);
  });

  it("reloads over REST when the cursor expired", async () => {
    const t = setup();
    t.socket.start("1");
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    await flush();
    ws.frame({ type: "ready", user_id: 1, cursor: "500" });
    ws.frame({ type: "error", code: "cursor_expired", message: "too old" });
    expect(t.reloads).toBe(1);
    expect(t.socket.cursor).toBeNull();
  });

  it("drops a silent connection after the heartbeat timeout", async () => {
    const t = setup();
    t.socket.start("1");
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    await flush();
    ws.frame({ type: "ready", user_id: 1, cursor: "1" });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ws.sent.at(-1)).toEqual({ type: "ping" });
    await vi.advanceTimersByTimeAsync(40_000);
    expect(ws.readyState).toBe(FakeSocket.CLOSED);
    expect(["backoff", "connecting"]).toContain(t.socket.status);
  });

  it("ignores malformed frames", async () => {
    const t = setup();
    t.socket.start("1");
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    await flush();
    ws.onmessage?.({ data: "not json" });
    ws.frame({ type: "receive_message", message: message(1) }); // no cursor
    expect(t.frames).toEqual([]);
  });
});
