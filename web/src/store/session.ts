/**
 * Session store: who is logged in and their tokens. Persisted in localStorage so a reload keeps
 * the session; other tabs' changes (a refresh, a logout) arrive through the `storage` event.
 */
import { create } from "zustand";
import type { StoredTokens, TokenStore } from "../api/client";
import type { User } from "../api/types";

const KEY = "messenger.session";

interface Persisted {
  tokens: StoredTokens;
  user: User | null;
}

export interface SessionState {
  tokens: StoredTokens | null;
  user: User | null;
  /** set when the server ended the session (refresh refused), for the login page to explain */
  endedReason: string | null;
  signIn(tokens: StoredTokens, user: User | null): void;
  setTokens(tokens: StoredTokens | null): void;
  setUser(user: User): void;
  signOut(reason?: string | null): void;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage disabled: the session lives for this page only
  }
}

function load(): Persisted | null {
  const raw = storage()?.getItem(KEY);
  if (!raw) return null;
  try {
    const p = JSON.parse(raw) as Persisted;
    return p.tokens && typeof p.tokens.refresh_token === "string" ? p : null;
  } catch {
    return null;
  }
}

function save(tokens: StoredTokens | null, user: User | null): void {
  const s = storage();
  if (!s) return;
  if (tokens === null) s.removeItem(KEY);
  else s.setItem(KEY, JSON.stringify({ tokens, user } satisfies Persisted));
}

const initial = load();

export const useSession = create<SessionState>((set, get) => ({
  tokens: initial?.tokens ?? null,
  user: initial?.user ?? null,
  endedReason: null,
  signIn(tokens, user) {
    save(tokens, user);
    set({ tokens, user, endedReason: null });
  },
  setTokens(tokens) {
    if (tokens === null) {
      get().signOut("Your session has ended. Please sign in again.");
      return;
    }
    save(tokens, get().user);
    set({ tokens });
  },
  setUser(user) {
    save(get().tokens, user);
    set({ user });
  },
  signOut(reason = null) {
    save(null, null);
    set({ tokens: null, user: null, endedReason: reason });
  },
}));

/** The ApiClient's view of the tokens; always reads the freshest copy (other tabs included). */
export const tokenStore: TokenStore = {
  get() {
    const fromDisk = load();
    const mem = useSession.getState().tokens;
    if (fromDisk && mem && fromDisk.tokens.refresh_token !== mem.refresh_token) {
      // another tab refreshed: adopt its pair (ours is spent)
      useSession.setState({ tokens: fromDisk.tokens });
      return fromDisk.tokens;
    }
    return mem;
  },
  set(tokens) {
    useSession.getState().setTokens(tokens);
  },
};

if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key !== KEY) return;
    const p = load();
    if (p === null) useSession.setState({ tokens: null, user: null });
    else useSession.setState({ tokens: p.tokens, user: p.user ?? useSession.getState().user });
  });
}
