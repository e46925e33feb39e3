import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router";
import { api, describeError } from "../api";
import { FormError, FormNotice } from "../components/Field";
import { usePage } from "../hooks/usePage";
import { AuthLayout } from "./AuthLayout";

export function VerifyEmail() {
  const heading = usePage("Verify your email");
  const token = new URLSearchParams(useLocation().search).get("token");
  const [state, setState] = useState<"working" | "done" | "failed">(token ? "working" : "failed");
  const [error, setError] = useState<string | null>(token ? null : "This link has no token. Open the link from the email again.");
  const once = useRef(false);

  useEffect(() => {
    // tokens are single-use: never send it twice (React's dev double effects included)
    if (!token || once.current) return;
    once.current = true;
    api.auth.verifyEmail(token).then(
      () => setState("done"),
      (err: unknown) => {
        setState("failed");
        setError(describeError(err));
      },
    );
  }, [token]);

  return (
    <AuthLayout title="Verify your email" heading={heading}>
      {state === "working" && <p role="status">Verifying…</p>}
      {state === "done" && <FormNotice message="Your email address is verified. You can sign in now." />}
      <FormError message={error} />
      <p className="links">
        <Link to="/login">Go to sign in</Link>
      </p>
    </AuthLayout>
  );
}
