/**
 * Connects the realtime controller for the logged-in session and exposes its state. Mount once
 * (in the authenticated shell); it disconnects on logout and on unmount.
 */
import { useEffect } from "react";
import { api } from "../api";
import { useChats } from "../store/chats";
import { useRealtime } from "../store/realtime";
import { useSession } from "../store/session";
import { restoreSnapshot } from "../offline/snapshot";
import { realtime } from "./realtime";

export function useWebSocket() {
  const refreshToken = useSession((s) => s.tokens?.refresh_token ?? null);
  const signedIn = refreshToken !== null;
  const status = useRealtime((s) => s.status);

  useEffect(() => {
    if (!signedIn) return;
    restoreSnapshot(); // the saved chats show at once, and are all there is without a network
    void realtime.start();
    if (!useSession.getState().user) {
      api.users.me().then(({ user }) => useSession.getState().setUser(user), () => undefined);
    }
    const onVisible = () => {
      if (document.visibilityState === "visible") realtime.markActiveRead();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      document.removeEventListener("visibilitychange", onVisible);
      realtime.stop();
      useChats.getState().reset();
    };
  }, [signedIn]);

  return { status };
}
