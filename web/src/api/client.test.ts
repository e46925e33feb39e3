import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, type StoredTokens, type TokenStore } from "./client";

// A scripted server standing in for the network (the client's transport is injectable); the
// behaviour under test is the client's own: one refresh per expiry, shared by concurrent calls.
function setup(opts: { refreshStatus?: number } = {}) {
  let stored: StoredTokens | null = { access_token: "old", refresh_token: "r1", expires_at: Date.now() + 600_000 };
  const tokens: TokenStore = { get: () => stored, set: (t) => (stored = t) };
  const calls: string[] = [];
  let refreshes = 0;
  let ended = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    const auth = new Headers(init?.headers).get("Authorization");
    calls.push(`${init?.method} ${url} ${auth ?? "-"}`);
    if (url === "/v1/auth/refresh") {
      refreshes++;
      await gate;
      if (opts.refreshStatus && opts.refreshStatus !== 200) {
        return new Response(JSON.stringify({ error: { code: "token_reused", message: "reused" } }), {
          status: opts.refreshStatus,
        });
      }
      return Response.json({ access_token: "new", refresh_token: "r2", token_type: "bearer", expires_in: 900 });
    }
    if (auth === "Bearer new") return Response.json({ ok: url });
    return new Response(JSON.stringify({ error: { code: "token_expired", message: "expired" } }), { status: 401 });
  };
  const api = new ApiClient({ tokens, fetch, onSessionEnded: () => ended++ });
  return { api, calls, release, get refreshes() { return refreshes; }, get ended() { return ended; }, get stored() { return stored; } };
}

describe("ApiClient token refresh", () => {
  it("refreshes once for many concurrent 401s and retries each request", async () => {
    const t = setup();
    const pending = [t.api.request("GET", "/v1/a"), t.api.request("GET", "/v1/b"), t.api.request("GET", "/v1/c")];
    await new Promise((r) => setTimeout(r, 10));
    t.release();
    const results = await Promise.all(pending);
    expect(results).toEqual([{ ok: "/v1/a" }, { ok: "/v1/b" }, { ok: "/v1/c" }]);
    expect(t.refreshes).toBe(1);
    expect(t.stored?.refresh_token).toBe("r2");
  });

  it("ends the session once when the refresh is refused", async () => {
    const t = setup({ refreshStatus: 401 });
    t.release();
    const results = await Promise.allSettled([t.api.request("GET", "/v1/a"), t.api.request("GET", "/v1/b")]);
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof ApiError && r.reason.status === 401)).toBe(true);
    expect(t.refreshes).toBe(1);
    expect(t.ended).toBe(1);
    expect(t.stored).toBeNull();
  });

  it("refreshes before sending when the access token is about to expire", async () => {
    const t = setup();
    t.api["tokens"].set({ access_token: "old", refresh_token: "r1", expires_at: Date.now() + 1000 });
    t.release();
    await expect(t.api.request("GET", "/v1/a")).resolves.toEqual({ ok: "/v1/a" });
    expect(t.calls.filter((c) => c.includes("Bearer old"))).toEqual([]);
  });

  it("sends no token to auth endpoints", async () => {
    const t = setup();
    t.release();
    await expect(t.api.request("POST", "/v1/auth/login", { body: {}, auth: false })).rejects.toBeInstanceOf(ApiError);
    expect(t.calls[0]).toBe("POST /v1/auth/login -");
  });
});
