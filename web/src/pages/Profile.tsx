import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api, describeError } from "../api";
import type { Session } from "../api/types";
import { Avatar, displayName } from "../components/Avatar";
import { AvatarCrop } from "../components/AvatarCrop";
import { Field, FormError, FormNotice } from "../components/Field";
import { describeUserAgent } from "../format/userAgent";
import { NotificationSettings } from "../components/NotificationSettings";
import { useAuth } from "../hooks/useAuth";
import { usePage } from "../hooks/usePage";
import { useSession } from "../store/session";

export function Profile() {
  const heading = usePage("Profile");
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [form, setForm] = useState({ display_name: user?.display_name ?? "", bio: user?.bio ?? "" });
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.users.me().then(
      ({ user }) => {
        useSession.getState().setUser(user);
        setForm({ display_name: user.display_name ?? "", bio: user.bio ?? "" });
      },
      (err: unknown) => setError(describeError(err)),
    );
    api.auth.sessions().then(
      (r) => setSessions(r.sessions),
      () => setSessions([]),
    );
  }, []);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const name = form.display_name.trim();
      const { user } = await api.users.updateMe({ ...(name ? { display_name: name } : {}), bio: form.bio });
      useSession.getState().setUser(user);
      setNotice("Saved.");
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function endSession(s: Session) {
    try {
      await api.auth.endSession(s.id);
      setSessions((list) => (list ?? []).filter((x) => x.id !== s.id));
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <main className="page" id="main">
      <p>
        <Link to="/chats">← Chats</Link>
      </p>
      <h1 ref={heading} tabIndex={-1}>
        Profile
      </h1>
      {user && (
        <div className="whoami large">
          <Avatar name={displayName(user)} src={user.avatar_url} />
          <p>
            Signed in as <strong>{displayName(user)}</strong>
            <br />
            <span className="muted">
              @{user.username}
              {user.email ? ` · ${user.email}` : ""}
            </span>
          </p>
        </div>
      )}
      <section className="card">
        <AvatarCrop
          onSaved={async (id) => {
            const { user: updated } = await api.users.updateMe({ avatar_media_id: id });
            useSession.getState().setUser(updated);
            setNotice("Picture saved.");
          }}
        />
      </section>
      <form onSubmit={save} className="card">
        <Field
          label="Display name"
          maxLength={100}
          value={form.display_name}
          onChange={(e) => setForm({ ...form, display_name: e.target.value })}
        />
        <div className="field">
          <label htmlFor="bio">Bio</label>
          <textarea id="bio" rows={3} maxLength={1000} value={form.bio} onChange={(e) => setForm({ ...form, bio: e.target.value })} />
        </div>
        <FormError message={error} />
        <FormNotice message={notice} />
        <button type="submit" disabled={busy}>
          Save
        </button>
      </form>
      <NotificationSettings email={user?.email} />
      <section className="card" aria-labelledby="sessions-h">
        <h2 id="sessions-h">Signed-in devices</h2>
        {sessions === null ? (
          <p className="muted">Loading…</p>
        ) : (
          <ul className="sessions">
            {sessions.map((s) => (
              <li key={String(s.id)}>
                <span>
                  <span title={s.user_agent ?? undefined}>{describeUserAgent(s.user_agent)}</span>
                  {s.current ? " (this device)" : ""}
                  <br />
                  <span className="muted small">
                    last used {new Date(s.last_used_at ?? s.created_at).toLocaleString()}
                  </span>
                </span>
                {!s.current && (
                  <button type="button" className="secondary small" onClick={() => void endSession(s)}>
                    Sign out<span className="visually-hidden"> {describeUserAgent(s.user_agent)}</span>
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <button
        type="button"
        className="danger"
        onClick={() => {
          void logout().then(() => navigate("/login", { replace: true }));
        }}
      >
        Sign out
      </button>
    </main>
  );
}
