import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, describeError } from "../api";
import { Field, FormError, FormNotice } from "../components/Field";
import { usePage } from "../hooks/usePage";
import { AuthLayout } from "./AuthLayout";

export function ForgotPassword() {
  const heading = usePage("Reset your password");
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.auth.forgotPassword(email.trim());
      setNotice("If that address has an account, a link to reset the password is on its way. It works for one hour.");
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Reset your password" heading={heading}>
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <FormError message={error} />
        <FormNotice message={notice} />
        <button type="submit" disabled={busy || !email}>
          Send reset link
        </button>
      </form>
      <p className="links">
        <Link to="/login">Back to sign in</Link>
      </p>
    </AuthLayout>
  );
}
