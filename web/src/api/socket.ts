/**
 * The WebSocket transport: performs the effects the pure state machine (src/chat/reconnect.ts)
 * decides. Owns one socket at a time, the retry timer, the auth handshake (first frame, since a
 * browser cannot set headers on an upgrade), a heartbeat that detects half-open connections,
 * and the browser's online/offline signals.
 */
import type { ClientFrame, ServerFrame } from "./types";
import { isPersisted, parseFrame } from "../chat/frames";
import { initialState, transition, type ConnEvent, type ConnState, type ConnStatus } from "../chat/reconnect";

export interface SocketHooks {
  url: string;
  /** a valid access token (refreshing if about to expire), or null when logged out */
  token(): Promise<string | null>;
  /** force a refresh after the server refused the token: new token, or null if the session ended */
  refresh(): Promise<string | null>;
  onFrame(frame: ServerFrame): void;
  onStatus(status: ConnStatus): void;
  /** reload visible state over REST (first connect, expired cursor) */
  onReload(): void;
  /** re-send own messages still waiting for an ack */
  onResendPending(): void;
  onSessionEnded(): void;
}

// The server closes sockets that stay silent (WS_IDLE_TIMEOUT) and sends its own `heartbeat`
// frames; a ping every 20 s keeps us well inside both, and a pong (or any frame) proves liveness.
const HEARTBEAT_MS = 20_000;
const HEARTBEAT_TIMEOUT_MS = 25_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;

export function wsUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/ws`;
}

export class RealtimeSocket {
  private state: ConnState = initialState;
  private ws: WebSocket | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private deadline: ReturnType<typeof setTimeout> | null = null;
  private lastFrameAt = 0;
  private readonly hooks: SocketHooks;
  private readonly onOnline = () => this.dispatch({ type: "browser_online" });
  private readonly onOffline = () => this.dispatch({ type: "browser_offline" });

  constructor(hooks: SocketHooks) {
    this.hooks = hooks;
  }

  get status(): ConnStatus {
    return this.state.status;
  }

  get cursor(): string | null {
    return this.state.cursor;
  }

  start(cursor: string | null): void {
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.onOnline);
      window.addEventListener("offline", this.onOffline);
    }
    this.dispatch({ type: "start", cursor });
  }

  stop(): void {
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("offline", this.onOffline);
    }
    this.dispatch({ type: "stop" });
  }

  /** Send a frame if live; false means the caller must fall back (REST) or wait. */
  send(frame: ClientFrame): boolean {
    if (this.state.status !== "live" || this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private dispatch(event: ConnEvent): void {
    const { state, effects } = transition(this.state, event);
    const statusChanged = state.status !== this.state.status;
    this.state = state;
    if (statusChanged) this.hooks.onStatus(state.status);
    for (const effect of effects) {
      switch (effect.type) {
        case "open_socket":
          this.open();
          break;
        case "close_socket":
          this.close();
          break;
        case "send_auth":
          void this.sendAuth();
          break;
        case "send_resume":
          this.ws?.send(JSON.stringify({ type: "resume", cursor: effect.cursor } satisfies ClientFrame));
          break;
        case "reload":
          this.hooks.onReload();
          break;
        case "resend_pending":
          this.hooks.onResendPending();
          break;
        case "schedule_retry":
          this.clearRetry();
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.dispatch({ type: "retry_due" });
          }, effect.delayMs);
          break;
        case "cancel_retry":
          this.clearRetry();
          break;
        case "refresh_token":
          this.hooks.refresh().then(
            (t) => this.dispatch(t === null ? { type: "auth_lost" } : { type: "token_refreshed" }),
            () => this.dispatch({ type: "refresh_failed" }),
          );
          break;
        case "end_session":
          this.hooks.onSessionEnded();
          break;
      }
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.heartbeat = null;
    this.deadline = null;
  }

  private open(): void {
    this.close();
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.hooks.url);
    } catch {
      this.dispatch({ type: "socket_closed", code: 1006 });
      return;
    }
    this.ws = ws;
    // no `ready` in time (stalled proxy, server overloaded): drop and retry
    this.deadline = setTimeout(() => {
      if (this.ws === ws && this.state.status !== "live") ws.close(4000, "handshake timeout");
    }, HANDSHAKE_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.ws === ws) this.dispatch({ type: "socket_open" });
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return; // a socket we already replaced
      this.ws = null;
      this.clearTimers();
      this.dispatch({ type: "socket_closed", code: e.code });
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      const frame = parseFrame(e.data);
      if (frame === null) return;
      if (frame.type === "ready") {
        if (this.deadline !== null) clearTimeout(this.deadline);
        this.deadline = null;
        this.startHeartbeat(ws);
        this.dispatch({ type: "ready", cursor: frame.cursor });
        this.hooks.onFrame(frame);
        return;
      }
      if (frame.type === "error" && frame.code === "cursor_expired") {
        this.dispatch({ type: "cursor_expired" });
        return;
      }
      // apply first, then advance the cursor: a crash in between replays rather than skips
      this.hooks.onFrame(frame);
      if (isPersisted(frame)) this.dispatch({ type: "persisted", cursor: frame.cursor });
    };
  }

  private async sendAuth(): Promise<void> {
    const ws = this.ws;
    let token: string | null;
    try {
      token = await this.hooks.token();
    } catch {
      ws?.close(4000, "token unavailable");
      return;
    }
    if (token === null) {
      this.dispatch({ type: "auth_lost" });
      return;
    }
    if (ws !== null && this.ws === ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "auth", token } satisfies ClientFrame));
    }
  }

  private startHeartbeat(ws: WebSocket): void {
    this.lastFrameAt = Date.now();
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.lastFrameAt > HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS) {
        ws.close(4000, "heartbeat timeout"); // the onclose path reconnects
        return;
      }
      ws.send(JSON.stringify({ type: "ping" } satisfies ClientFrame));
    }, HEARTBEAT_MS);
  }

  private close(): void {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws !== null && ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING) {
      ws.close(1000, "bye");
    }
  }
}
