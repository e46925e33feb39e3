import type { User } from "../api/types";

export function displayName(user: Pick<User, "display_name" | "username"> | null | undefined): string {
  if (!user) return "Someone";
  return user.display_name?.trim() || user.username || "Deleted account";
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [name];
  return letters
    .map((p) => Array.from(p ?? "")[0] ?? "")
    .join("")
    .toUpperCase()
    .slice(0, 2);
}

/** Only the server's own avatar URLs (same origin), so the page makes no request elsewhere. */
function ownOrigin(src: string | null | undefined): string | null {
  if (!src || typeof window === "undefined") return null;
  try {
    const url = new URL(src, window.location.href);
    return url.origin === window.location.origin ? url.href : null;
  } catch {
    return null;
  }
}

/** The user's picture when they have one (from this server), else their initials. */
export function Avatar({ name, online, src }: { name: string; online?: boolean | undefined; src?: string | null }) {
  const url = ownOrigin(src);
  return (
    <span className="avatar" aria-hidden="true">
      {url ? <img src={url} alt="" /> : initials(name) || "?"}
      {online !== undefined && <PresenceDot online={online} decorative />}
    </span>
  );
}

export function PresenceDot({ online, decorative = false }: { online: boolean; decorative?: boolean }) {
  return (
    <span
      className={`presence ${online ? "online" : "offline"}`}
      {...(decorative ? { "aria-hidden": true } : { role: "img", "aria-label": online ? "online" : "offline" })}
    />
  );
}
