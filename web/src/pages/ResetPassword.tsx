import { useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { api, describeError } from "../api";
import { Field, FormError, FormNotice } from "../components/Field";
import { usePage } from "../hooks/usePage";
import { useSession } from "../store/session";
import { AuthLayout } from "./AuthLayout";
import { passwordProblem } from "./Register";

export function ResetPassword() {
  const heading = usePage("Choose a new password");
  const token = new URLSearchParams(useLocation().search).get("token");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(token ? null : "This link has no token. Open the link from the email again.");
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const problem = password ? passwordProblem(password) : null;
  const mismatch = confirm && confirm !== password ? "The passwords do not match." : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!token || problem || mismatch || !password) return;
    setBusy(true);
    setError(null);
    try {
      await api.auth.resetPassword(token, password);
      // every session of the account ended, this tab's included
      useSession.getState().signOut();
      setDone(true);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Choose a new password" heading={heading}>
      {done ? (
        <FormNotice message="Your password was changed and every session was signed out." />
      ) : (
        <form onSubmit={submit} noValidate>
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="8 to 256 characters."
            error={problem}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <Field
            label="Repeat the new password"
            type="password"
            autoComplete="new-password"
            error={mismatch}
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
          <FormError message={error} />
          <button type="submit" disabled={busy || !token || !password || Boolean(problem) || confirm !== password}>
            Change password
          </button>
        </form>
      )}
      <p className="links">
        <Link to="/login">Go to sign in</Link>
      </p>
    </AuthLayout>
  );
}
