import { describe, expect, it } from "vitest";
import { backoffDelay, BACKOFF_MAX_MS, initialState, transition, type ConnEvent, type ConnState, type Effect } from "./reconnect";

function run(events: ConnEvent[], start: ConnState = initialState): { state: ConnState; effects: Effect[][] } {
  let state = start;
  const effects: Effect[][] = [];
  for (const e of events) {
    const r = transition(state, e, 0.5);
    state = r.state;
    effects.push(r.effects);
  }
  return { state, effects };
}

const types = (e: Effect[] | undefined) => (e ?? []).map((x) => x.type);

describe("reconnect state machine", () => {
  it("connects, authenticates with the first frame, then resumes from its cursor", () => {
    const { state, effects } = run([
      { type: "start", cursor: "10" },
      { type: "socket_open" },
      { type: "ready", cursor: "12" },
    ]);
    expect(types(effects[0])).toEqual(["open_socket"]);
    expect(types(effects[1])).toEqual(["send_auth"]);
    expect(effects[2]).toEqual([{ type: "send_resume", cursor: "10" }, { type: "resend_pending" }]);
    expect(state.status).toBe("live");
  });

  it("adopts the server cursor and reloads when it has none", () => {
    const { state, effects } = run([{ type: "start", cursor: null }, { type: "socket_open" }, { type: "ready", cursor: "7" }]);
    expect(state.cursor).toBe("7");
    expect(types(effects[2])).toEqual(["reload", "resend_pending"]);
  });

  it("resumes from the last persisted event after a drop (no loss, no gap)", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "ready", cursor: "1" },
      { type: "persisted", cursor: "5" },
      { type: "persisted", cursor: "6" },
      { type: "socket_closed", code: 1006 },
      { type: "retry_due" },
      { type: "socket_open" },
      { type: "ready", cursor: "9" },
    ]);
    expect(types(effects[5])).toEqual(["schedule_retry"]);
    expect(effects[8]?.[0]).toEqual({ type: "send_resume", cursor: "6" });
    expect(state.status).toBe("live");
    expect(state.attempt).toBe(0);
  });

  it("backs off exponentially while the server is down, capped", () => {
    const delays: number[] = [];
    let s = run([{ type: "start", cursor: "1" }]).state;
    for (let i = 0; i < 12; i++) {
      const r = transition(s, { type: "socket_closed", code: 1006 }, 1);
      const sched = r.effects.find((e) => e.type === "schedule_retry");
      if (sched && sched.type === "schedule_retry") delays.push(sched.delayMs);
      s = transition(r.state, { type: "retry_due" }).state;
    }
    expect(delays.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(Math.max(...delays)).toBe(BACKOFF_MAX_MS);
  });

  it("jitters the delay between half and all of the step", () => {
    expect(backoffDelay(3, 0)).toBe(1000);
    expect(backoffDelay(3, 1)).toBe(2000);
  });

  it("refreshes the token once on an auth close, then reconnects", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "socket_closed", code: 4001 },
      { type: "token_refreshed" },
    ]);
    expect(types(effects[2])).toEqual(["refresh_token"]);
    expect(types(effects[3])).toEqual(["open_socket"]);
    expect(state.status).toBe("connecting");
  });

  it("ends the session when auth fails again right after a refresh", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "socket_closed", code: 4001 },
      { type: "token_refreshed" },
      { type: "socket_open" },
      { type: "socket_closed", code: 4001 },
    ]);
    expect(types(effects[5])).toEqual(["end_session"]);
    expect(state.status).toBe("idle");
  });

  it("backs off when the refresh cannot reach the server", () => {
    const { state } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "socket_closed", code: 4001 },
      { type: "refresh_failed" },
    ]);
    expect(state.status).toBe("backoff");
  });

  it("waits for the browser to come online instead of retrying", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "ready", cursor: "1" },
      { type: "browser_offline" },
      { type: "socket_closed", code: 1006 },
      { type: "browser_online" },
    ]);
    expect(types(effects[3])).toEqual(["cancel_retry", "close_socket"]);
    expect(effects[4]).toEqual([]);
    expect(types(effects[5])).toEqual(["cancel_retry", "open_socket"]);
    expect(state.status).toBe("connecting");
  });

  it("starts over from a fresh cursor and reloads when the cursor expired", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "ready", cursor: "900" },
      { type: "cursor_expired" },
      { type: "persisted", cursor: "901" },
    ]);
    expect(types(effects[3])).toEqual(["reload"]);
    expect(state.cursor).toBe("901");
  });

  it("stops cleanly and ignores the close it caused", () => {
    const { state, effects } = run([
      { type: "start", cursor: "1" },
      { type: "socket_open" },
      { type: "ready", cursor: "1" },
      { type: "stop" },
      { type: "socket_closed", code: 1000 },
      { type: "retry_due" },
    ]);
    expect(types(effects[3])).toEqual(["cancel_retry", "close_socket"]);
    expect(effects[4]).toEqual([]);
    expect(effects[5]).toEqual([]);
    expect(state.status).toBe("idle");
  });

  it("ignores a ready that does not follow an auth frame", () => {
    const { effects } = run([{ type: "start", cursor: "1" }, { type: "ready", cursor: "2" }]);
    expect(effects[1]).toEqual([]);
  });
});
