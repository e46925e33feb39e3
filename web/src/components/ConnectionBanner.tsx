import type { ConnStatus } from "../chat/reconnect";

const TEXT: Partial<Record<ConnStatus, string>> = {
  connecting: "Connecting…",
  authenticating: "Connecting…",
  refreshing: "Reconnecting…",
  backoff: "Connection lost. Reconnecting…",
  offline: "You are offline. Messages will be sent when you reconnect.",
};

/** Tells the user (and screen readers, politely) when realtime delivery is not live. */
export function ConnectionBanner({ status }: { status: ConnStatus }) {
  const text = TEXT[status];
  return (
    <div className={`connection ${text ? "visible" : ""}`} role="status" aria-live="polite" data-status={status}>
      {text ?? ""}
    </div>
  );
}
