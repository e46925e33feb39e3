import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation } from "react-router-dom";
import { ConnectionBanner } from "./components/ConnectionBanner";
import { useWebSocket } from "./hooks/useWebSocket";
import { ChatsPage } from "./pages/ChatsPage";
import { ForgotPassword } from "./pages/ForgotPassword";
import { Login } from "./pages/Login";
import { safeNext } from "./pages/next";
import { Profile } from "./pages/Profile";
import { Register } from "./pages/Register";
import { ResetPassword } from "./pages/ResetPassword";
import { VerifyEmail } from "./pages/VerifyEmail";
import { useSession } from "./store/session";

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
      <Outlet />
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
    </BrowserRouter>
  );
}
