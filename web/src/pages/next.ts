/** Where to go after signing in: only same-origin app paths from ?next= (no open redirect). */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/chats";
  return next;
}
