import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ApiError, describeError } from "../api";
import { Field, FormError, FormNotice } from "../components/Field";
import { usePage } from "../hooks/usePage";
import { AuthLayout } from "./AuthLayout";

export function passwordProblem(password: string): string | null {
  const n = Array.from(password).length;
  if (n < 8) return "At least 8 characters.";
  if (n > 256) return "At most 256 characters.";
  return null;
}

export function Register() {
  const heading = usePage("Create an account");
  const [form, setForm] = useState({ email: "", username: "", display_name: "", password: "" });
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [touched, setTouched] = useState(false);
  const pwProblem = passwordProblem(form.password);
  const errorFor = (field: string) => (fieldError?.field === field ? fieldError.message : null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (pwProblem) return;
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      await api.auth.register({
        email: form.email.trim(),
        username: form.username.trim(),
        password: form.password,
        ...(form.display_name.trim() ? { display_name: form.display_name.trim() } : {}),
      });
      setDone(`Check ${form.email.trim()} for a link to verify your address, then sign in.`);
    } catch (err) {
      // validation messages name the field ("... - at `$.username`"): show it next to that field
      const field = err instanceof ApiError && err.status === 422 ? /`\$\.(\w+)`/.exec(err.message)?.[1] : undefined;
      if (field && field in form) {
        setFieldError({ field, message: err instanceof Error ? err.message.replace(/ - at `\$\.\w+`/, "") : "" });
      } else {
        setError(err instanceof ApiError && err.status === 409 ? err.message || "That email or username is taken." : describeError(err));
      }
    } finally {
      setBusy(false);
    }
  }

  if (done) {
    return (
      <AuthLayout title="Almost there" heading={heading}>
        <FormNotice message={done} />
        <p className="links">
          <Link to="/login">Go to sign in</Link>
        </p>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title="Create an account" heading={heading}>
      <form onSubmit={submit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          required
          error={errorFor("email")}
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
        />
        <Field
          label="Username"
          autoComplete="username"
          required
          autoCapitalize="none"
          spellCheck={false}
          error={errorFor("username")}
          value={form.username}
          onChange={(e) => setForm({ ...form, username: e.target.value })}
        />
        <Field
          label="Display name"
          hint="Optional. How others see you."
          autoComplete="name"
          error={errorFor("display_name")}
          value={form.display_name}
          onChange={(e) => setForm({ ...form, display_name: e.target.value })}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="8 to 256 characters."
          required
          error={(touched ? pwProblem : null) ?? errorFor("password")}
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
        />
        <FormError message={error} />
        <button type="submit" disabled={busy || !form.email || !form.username || !form.password}>
          {busy ? "Creating account…" : "Create account"}
        </button>
      </form>
      <p className="links">
        <Link to="/login">Already have an account? Sign in</Link>
      </p>
    </AuthLayout>
  );
}
