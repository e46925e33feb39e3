import { useEffect, useState } from "react";
import { api, describeError } from "../api";
import type { UserSettings } from "../api/types";
import { desktopPermission, requestDesktopPermission, type DesktopPermission } from "../notify/desktop";

const EMAIL_SWITCHES: { key: keyof UserSettings; label: string }[] = [
  { key: "email_mentions", label: "Email me about mentions while I am away" },
  { key: "email_direct_messages", label: "Email me about direct messages while I am away" },
  { key: "email_group_messages", label: "Email me about group messages I asked to be notified of" },
];

function desktopText(p: DesktopPermission): string {
  if (p === "granted") return "On: mentions and direct messages notify you while this tab is in the background.";
  if (p === "denied") return "Blocked in this browser's site settings.";
  if (p === "unsupported") return "Not supported by this browser.";
  return "Off.";
}

/** Profile: email notifications, last-seen privacy and desktop notifications. */
export function NotificationSettings({ email }: { email: string | undefined }) {
  const [settings, setSettings] = useState<UserSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [desktop, setDesktop] = useState<DesktopPermission>(() => desktopPermission());
  const [address, setAddress] = useState<string | undefined>(email);

  useEffect(() => {
    if (email) setAddress(email);
    else api.users.me().then(({ user }) => setAddress(user.email), () => undefined);
  }, [email]);

  useEffect(() => {
    api.users.settings().then(
      (r) => setSettings(r.settings),
      (err: unknown) => setError(describeError(err)),
    );
  }, []);

  async function change(patch: Partial<UserSettings>) {
    setError(null);
    try {
      setSettings((await api.users.updateSettings(patch)).settings);
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <section className="card" aria-labelledby="notify-h">
      <h2 id="notify-h">Notifications and privacy</h2>
      {address && <p className="small">Emails go to {address}.</p>}
      {settings === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          {EMAIL_SWITCHES.map(({ key, label }) => (
            <label className="check" key={key}>
              <input type="checkbox" checked={settings[key]} onChange={(e) => void change({ [key]: e.target.checked })} />
              {label}
            </label>
          ))}
          <label className="check">
            <input
              type="checkbox"
              checked={settings.show_last_seen}
              onChange={(e) => void change({ show_last_seen: e.target.checked })}
            />
            Show when I was last seen (if off, you do not see others' either)
          </label>
        </>
      )}
      <p className="small">
        Desktop notifications: {desktopText(desktop)}{" "}
        {desktop === "default" && (
          <button type="button" className="small" onClick={() => void requestDesktopPermission().then(setDesktop)}>
            Turn on desktop notifications
          </button>
        )}
      </p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
