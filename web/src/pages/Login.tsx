import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ApiError, describeError } from "../api";
import { Field, FormError, FormNotice } from "../components/Field";
import { useAuth } from "../hooks/useAuth";
import { usePage } from "../hooks/usePage";
import { AuthLayout } from "./AuthLayout";

export function Login() {
  const heading = usePage("Sign in");
  const { login, endedReason } = useAuth();
  const [form, setForm] = useState({ login: "", password: "" });
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(endedReason);
  const [unverified, setUnverified] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    setUnverified(false);
    try {
      // signing in re-renders the public route, which redirects to ?next= (App.tsx, safeNext)
      await login(form.login.trim(), form.password);
    } catch (err) {
      if (err instanceof ApiError && err.code === "email_not_verified") {
        setUnverified(true);
        setError("Your email address is not verified yet. Follow the link we sent you.");
      } else if (err instanceof ApiError && err.code === "invalid_credentials") {
        setError("Wrong email/username or password.");
      } else {
        setError(describeError(err));
      }
    } finally {
      setBusy(false);
    }
  }

  async function resend() {
    const email = form.login.includes("@") ? form.login.trim() : "";
    if (!email) {
      setError("Enter your email address above to get a new verification link.");
      return;
    }
    try {
      await api.auth.resendVerification(email);
      setNotice("If that address has an account, a new verification link is on its way.");
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <AuthLayout title="Sign in" heading={heading}>
      <FormNotice message={notice} />
      <form onSubmit={submit} noValidate>
        <Field
          label="Email or username"
          name="login"
          autoComplete="username"
          required
          value={form.login}
          onChange={(e) => setForm({ ...form, login: e.target.value })}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
        />
        <FormError message={error} />
        {unverified && (
          <button type="button" className="secondary" onClick={() => void resend()}>
            Send a new verification link
          </button>
        )}
        <button type="submit" disabled={busy || !form.login || !form.password}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p className="links">
        <Link to="/forgot-password">Forgot your password?</Link>
        <Link to="/register">Create an account</Link>
      </p>
    </AuthLayout>
  );
}
