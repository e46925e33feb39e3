import type { User } from "../api/types";

export function displayName(user: Pick<User, "display_name" | "username"> | null | undefined): string {
  if (!user) return "Someone";
  return user.display_name?.trim() || user.username;
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

/** Initials only: no remote images, so the page makes no request outside its origin. */
export function Avatar({ name, online }: { name: string; online?: boolean | undefined }) {
  return (
    <span className="avatar" aria-hidden="true">
      {initials(name) || "?"}
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
