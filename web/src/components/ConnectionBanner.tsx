import type { ConnStatus } from "../chat/reconnect";
import { useOffline } from "../offline/snapshot";

const TEXT: Partial<Record<ConnStatus, string>> = {
  connecting: "Connecting…",
  authenticating: "Connecting…",
  refreshing: "Reconnecting…",
  backoff: "Connection lost. Reconnecting…",
  offline: "You are offline. Messages will be sent when you reconnect.",
};

/** Tells the user (and screen readers, politely) when realtime delivery is not live. */
export function ConnectionBanner({ status }: { status: ConnStatus }) {
  const saved = useOffline((s) => s.showingSaved);
  const text = saved && status !== "live" ? "You are offline. Showing saved chats (read-only)." : TEXT[status];
  return (
    <div className={`connection ${text ? "visible" : ""}`} role="status" aria-live="polite" data-status={status}>
      {text ?? ""}
    </div>
  );
}
