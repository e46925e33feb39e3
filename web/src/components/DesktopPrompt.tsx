import { useState } from "react";
import { desktopPermission, dismissPrompt, promptDismissed, requestDesktopPermission } from "../notify/desktop";

/** The in-app question before the browser's: shown until answered or dismissed, never on its own. */
export function DesktopPrompt() {
  const [state, setState] = useState(() => desktopPermission());
  const [hidden, setHidden] = useState(() => promptDismissed());
  if (state !== "default" || hidden) return null;
  return (
    <div className="desktop-prompt card" role="region" aria-label="Desktop notifications">
      <p className="small">Get a desktop notification for mentions and direct messages while this tab is in the background?</p>
      <button type="button" className="small" onClick={() => void requestDesktopPermission().then(setState)}>
        Turn on
      </button>{" "}
      <button
        type="button"
        className="secondary small"
        onClick={() => {
          dismissPrompt();
          setHidden(true);
        }}
      >
        Not now
      </button>
    </div>
  );
}
