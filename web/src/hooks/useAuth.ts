/** Session actions for pages: login, logout, and the current user. */
import { useCallback } from "react";
import { api, tokensFrom } from "../api";
import { useChats } from "../store/chats";
import { useSession } from "../store/session";
import { realtime } from "./realtime";

export function useAuth() {
  const user = useSession((s) => s.user);
  const authenticated = useSession((s) => s.tokens !== null);
  const endedReason = useSession((s) => s.endedReason);

  const login = useCallback(async (login: string, password: string) => {
    const res = await api.auth.login(login, password);
    useSession.getState().signIn(tokensFrom(res), res.user ?? null);
    if (!res.user) {
      const { user } = await api.users.me();
      useSession.getState().setUser(user);
    }
  }, []);

  const logout = useCallback(async () => {
    const tokens = useSession.getState().tokens;
    realtime.stop();
    try {
      if (tokens) await api.auth.logout(tokens.refresh_token);
    } catch {
      // the local session ends anyway; the server's copy expires on its own
    }
    useSession.getState().signOut();
    useChats.getState().reset();
  }, []);

  return { user, authenticated, endedReason, login, logout };
}
