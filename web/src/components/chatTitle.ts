import type { Chat, User } from "../api/types";
import { displayName } from "./Avatar";

export function chatTitle(chat: Chat, peer: User | undefined): string {
  if (chat.title && chat.title.trim()) return chat.title;
  if (chat.kind === "direct") return peer ? displayName(peer) : "Direct chat";
  return chat.kind === "channel" ? "Untitled channel" : "Untitled group";
}

export function timeLabel(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}
