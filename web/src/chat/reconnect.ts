/**
 * The realtime connection as a pure state machine: transition(state, event) -> (state, effects).
 * The hook (useWebSocket) performs the effects (open a socket, send frames, set timers); this
 * module decides them, so every path (drops, auth expiry, offline, expired cursor) is unit-tested.
 *
 * Lossless resume: `cursor` is the position of the last persisted event applied. After a
 * (re)connect and `ready`, the client sends `resume {cursor}` and the server replays everything
 * after it, then continues live; message merging is idempotent, so an overlap is harmless and
 * nothing is lost. Without a cursor (first start) the client adopts the server's and reloads
 * over REST, which covers everything before it.
 */

export type ConnStatus = "idle" | "connecting" | "authenticating" | "live" | "backoff" | "refreshing" | "offline";

export interface ConnState {
  status: ConnStatus;
  /** consecutive failed attempts; 0 once live */
  attempt: number;
  cursor: string | null;
  /** set in backoff: when the next attempt is due (ms from now when scheduled) */
  delayMs: number | null;
  /** auth failures in a row: a second 4001 right after a refresh is a dead session */
  authFailures: number;
}

export type ConnEvent =
  | { type: "start"; cursor?: string | null }
  | { type: "stop" }
  | { type: "socket_open" }
  | { type: "ready"; cursor: string }
  | { type: "persisted"; cursor: string }
  | { type: "cursor_expired" }
  | { type: "socket_closed"; code: number }
  | { type: "retry_due" }
  | { type: "token_refreshed" }
  | { type: "refresh_failed" }
  | { type: "auth_lost" }
  | { type: "browser_offline" }
  | { type: "browser_online" };

export type Effect =
  | { type: "open_socket" }
  | { type: "close_socket" }
  | { type: "send_auth" }
  | { type: "send_resume"; cursor: string }
  | { type: "reload" }
  | { type: "resend_pending" }
  | { type: "schedule_retry"; delayMs: number }
  | { type: "cancel_retry" }
  | { type: "refresh_token" }
  | { type: "end_session" };

export const initialState: ConnState = { status: "idle", attempt: 0, cursor: null, delayMs: null, authFailures: 0 };

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30_000;

/** Exponential backoff with jitter in [50%, 100%] of the step (spreads reconnect storms). */
export function backoffDelay(attempt: number, random: number): number {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(step * (0.5 + 0.5 * Math.min(1, Math.max(0, random))));
}

/** Close codes that mean "your credentials were refused" (contract: 4001). */
export function isAuthClose(code: number): boolean {
  return code === 4001 || code === 4003 || code === 4401 || code === 4403;
}

interface Result {
  state: ConnState;
  effects: Effect[];
}

function backoff(state: ConnState, random: number, extra: Effect[] = []): Result {
  const attempt = state.attempt + 1;
  const delayMs = backoffDelay(attempt, random);
  return {
    state: { ...state, status: "backoff", attempt, delayMs },
    effects: [...extra, { type: "schedule_retry", delayMs }],
  };
}

export function transition(state: ConnState, event: ConnEvent, random: number = Math.random()): Result {
  switch (event.type) {
    case "start":
      if (state.status !== "idle") return { state, effects: [] };
      return {
        state: {
          ...initialState,
          cursor: event.cursor !== undefined ? event.cursor : state.cursor,
          status: "connecting",
        },
        effects: [{ type: "open_socket" }],
      };
    case "stop":
      if (state.status === "idle") return { state, effects: [] };
      return { state: { ...initialState, cursor: state.cursor }, effects: [{ type: "cancel_retry" }, { type: "close_socket" }] };
    case "socket_open":
      if (state.status !== "connecting") return { state, effects: [] };
      return { state: { ...state, status: "authenticating" }, effects: [{ type: "send_auth" }] };
    case "ready": {
      if (state.status !== "authenticating") return { state, effects: [] };
      const live: ConnState = { ...state, status: "live", attempt: 0, delayMs: null, authFailures: 0 };
      if (state.cursor === null) {
        return { state: { ...live, cursor: event.cursor }, effects: [{ type: "reload" }, { type: "resend_pending" }] };
      }
      return {
        state: live,
        effects: [{ type: "send_resume", cursor: state.cursor }, { type: "resend_pending" }],
      };
    }
    case "persisted":
      if (state.status === "idle") return { state, effects: [] };
      return { state: { ...state, cursor: event.cursor }, effects: [] };
    case "cursor_expired":
      // Too far behind for a replay: start over from "now" and reload the visible state over REST.
      return { state: { ...state, cursor: null }, effects: [{ type: "reload" }] };
    case "socket_closed":
      if (state.status === "idle" || state.status === "offline" || state.status === "refreshing") {
        return { state, effects: [] };
      }
      if (state.status === "backoff") return { state, effects: [] };
      if (isAuthClose(event.code)) {
        if (state.authFailures >= 1) {
          return { state: { ...initialState, cursor: state.cursor }, effects: [{ type: "end_session" }] };
        }
        return {
          state: { ...state, status: "refreshing", authFailures: state.authFailures + 1 },
          effects: [{ type: "refresh_token" }],
        };
      }
      return backoff(state, random);
    case "retry_due":
      if (state.status !== "backoff") return { state, effects: [] };
      return { state: { ...state, status: "connecting", delayMs: null }, effects: [{ type: "open_socket" }] };
    case "token_refreshed":
      if (state.status !== "refreshing") return { state, effects: [] };
      return { state: { ...state, status: "connecting" }, effects: [{ type: "open_socket" }] };
    case "refresh_failed":
      // the refresh itself could not reach the server: try again later, the session may be fine
      if (state.status !== "refreshing") return { state, effects: [] };
      return backoff({ ...state, authFailures: 0 }, random);
    case "auth_lost":
      return {
        state: { ...initialState, cursor: state.cursor },
        effects: [{ type: "cancel_retry" }, { type: "close_socket" }, { type: "end_session" }],
      };
    case "browser_offline":
      if (state.status === "idle") return { state, effects: [] };
      return {
        state: { ...state, status: "offline", delayMs: null },
        effects: [{ type: "cancel_retry" }, { type: "close_socket" }],
      };
    case "browser_online":
      if (state.status !== "offline" && state.status !== "backoff") return { state, effects: [] };
      return {
        state: { ...state, status: "connecting", delayMs: null },
        effects: [{ type: "cancel_retry" }, { type: "open_socket" }],
      };
  }
}
