import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation } from "react-router";
import { ConnectionBanner } from "./components/ConnectionBanner";
import { useWebSocket } from "./hooks/useWebSocket";
import { ChatsPage } from "./pages/ChatsPage";
import { Login } from "./pages/Login";
import { safeNext } from "./pages/next";
import { useSession } from "./store/session";

// Route-level code splitting: the chat list and sign-in are in the first download; the rest
// loads when visited (and is precached by the service worker after the first visit).
const ForgotPassword = lazy(() => import("./pages/ForgotPassword").then((m) => ({ default: m.ForgotPassword })));
const Profile = lazy(() => import("./pages/Profile").then((m) => ({ default: m.Profile })));
const Register = lazy(() => import("./pages/Register").then((m) => ({ default: m.Register })));
const ResetPassword = lazy(() => import("./pages/ResetPassword").then((m) => ({ default: m.ResetPassword })));
const VerifyEmail = lazy(() => import("./pages/VerifyEmail").then((m) => ({ default: m.VerifyEmail })));

function Loading() {
  return <p className="muted pad">Loading…</p>;
}

/** Signed-in area: one realtime connection for every page inside it. */
function Shell() {
  const signedIn = useSession((s) => s.tokens !== null);
  const location = useLocation();
  const { status } = useWebSocket();
  if (!signedIn) {
    return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  }
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <ConnectionBanner status={status} />
      <Suspense fallback={<Loading />}>
        <Outlet />
      </Suspense>
    </>
  );
}

function PublicOnly({ children }: { children: ReactNode }) {
  const signedIn = useSession((s) => s.tokens !== null);
  const location = useLocation();
  return signedIn ? <Navigate to={safeNext(location.search)} replace /> : <>{children}</>;
}

export function App() {
  return (
    <BrowserRouter>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/login" element={<PublicOnly><Login /></PublicOnly>} />
          <Route path="/register" element={<PublicOnly><Register /></PublicOnly>} />
          <Route path="/verify-email" element={<VerifyEmail />} />
          <Route path="/forgot-password" element={<ForgotPassword />} />
          <Route path="/reset-password" element={<ResetPassword />} />
          <Route element={<Shell />}>
            <Route path="/chats" element={<ChatsPage />} />
            <Route path="/chats/:chatId" element={<ChatsPage />} />
            <Route path="/profile" element={<Profile />} />
          </Route>
          <Route path="*" element={<Navigate to="/chats" replace />} />
        </Routes>
      </Suspense>
    </BrowserRouter>
  );
}
