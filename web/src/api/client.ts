/**
 * The one HTTP client. Token refresh lives here and only here: a 401 triggers one refresh,
 * concurrent requests wait for that same refresh, then retry once with the new token.
 * Across tabs, the refresh runs under a Web Lock and re-reads storage first, so two tabs never
 * spend the same refresh token (which the server would treat as reuse and revoke the family).
 */
import type { ApiErrorBody, TokenPair } from "./types";

export interface StoredTokens {
  access_token: string;
  refresh_token: string;
  /** epoch ms when the access token expires */
  expires_at: number;
}

export interface TokenStore {
  get(): StoredTokens | null;
  set(tokens: StoredTokens | null): void;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Thrown when the network (not the server) failed: offline, connection refused, aborted. */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkError";
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** send the bearer token and refresh on 401 (default true) */
  auth?: boolean;
  signal?: AbortSignal;
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  baseUrl?: string;
  tokens: TokenStore;
  /** called once when the session is definitively over (refresh rejected) */
  onSessionEnded: () => void;
  fetch?: FetchLike;
  /** refresh this long before the access token expires (ms) */
  refreshSkewMs?: number;
}

export function tokensFrom(pair: TokenPair, now: number = Date.now()): StoredTokens {
  return {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: now + pair.expires_in * 1000,
  };
}

export function buildUrl(base: string, path: string, query?: Query): string {
  let url = base + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  return url;
}

async function errorFrom(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as Partial<ApiErrorBody>;
    if (body.error && typeof body.error.code === "string") {
      code = body.error.code;
      message = body.error.message ?? message;
    }
  } catch {
    // not JSON (a proxy's error page): keep the status text
  }
  const ra = res.headers.get("Retry-After");
  return new ApiError(res.status, code, message, ra !== null && ra !== "" ? Number(ra) : null);
}

export class ApiClient {
  private readonly base: string;
  private readonly tokens: TokenStore;
  private readonly onSessionEnded: () => void;
  private readonly fetchImpl: FetchLike;
  private readonly skew: number;
  private inflight: Promise<string | null> | null = null;

  constructor(opts: ApiClientOptions) {
    this.base = opts.baseUrl ?? "";
    this.tokens = opts.tokens;
    this.onSessionEnded = opts.onSessionEnded;
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.skew = opts.refreshSkewMs ?? 20_000;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const auth = opts.auth ?? true;
    let token: string | null = null;
    if (auth) token = await this.accessToken();
    let res = await this.send(method, path, opts, token);
    if (res.status === 401 && auth && token !== null) {
      const fresh = await this.refresh(token);
      if (fresh !== null) res = await this.send(method, path, opts, fresh);
    }
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204 || res.status === 202 || res.headers.get("Content-Length") === "0") {
      // 202s of this API carry no body the client needs
      return undefined as T;
    }
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A valid access token (refreshing first if it is about to expire), or null if logged out. */
  async accessToken(): Promise<string | null> {
    const current = this.tokens.get();
    if (current === null) return null;
    if (current.expires_at - this.skew > Date.now()) return current.access_token;
    return this.refresh(current.access_token);
  }

  /**
   * Refresh after `staleToken` was rejected or is expiring. Single-flight: every caller during
   * one refresh gets the same promise. Returns the new access token or null if the session ended.
   */
  refresh(staleToken: string): Promise<string | null> {
    const current = this.tokens.get();
    if (current === null) return Promise.resolve(null);
    if (current.access_token !== staleToken && current.expires_at - this.skew > Date.now()) {
      // someone (this tab or another) already refreshed since the caller read the token
      return Promise.resolve(current.access_token);
    }
    if (this.inflight === null) {
      this.inflight = this.withLock(() => this.doRefresh(current.refresh_token)).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks && typeof locks.request === "function") {
      return locks.request("messenger-token-refresh", fn) as Promise<T>;
    }
    return fn();
  }

  private async doRefresh(seenRefresh: string): Promise<string | null> {
    const latest = this.tokens.get();
    if (latest === null) return null;
    if (latest.refresh_token !== seenRefresh && latest.expires_at - this.skew > Date.now()) {
      return latest.access_token; // another tab refreshed while we waited for the lock
    }
    let res: Response;
    try {
      res = await this.send("POST", "/v1/auth/refresh", { body: { refresh_token: latest.refresh_token } }, null);
    } catch (err) {
      // offline: keep the session, the caller sees the network error
      throw err;
    }
    if (res.ok) {
      const pair = (await res.json()) as TokenPair;
      const stored = tokensFrom(pair);
      this.tokens.set(stored);
      return stored.access_token;
    }
    if (res.status === 401 || res.status === 403 || res.status === 400 || res.status === 422) {
      this.tokens.set(null);
      this.onSessionEnded();
      return null;
    }
    throw await errorFrom(res);
  }

  private async send(method: string, path: string, opts: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    try {
      return await this.fetchImpl(buildUrl(this.base, path, opts.query), {
        method,
        headers,
        body,
        signal: opts.signal,
        credentials: "same-origin",
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new NetworkError(err instanceof Error ? err.message : String(err));
    }
  }
}
