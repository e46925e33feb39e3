/** Decoding server frames defensively: a malformed frame is dropped, never thrown into React. */
import type { PersistedFrame, ServerFrame } from "../api/types";

const PERSISTED = new Set([
  "receive_message",
  "message_edited",
  "message_deleted",
  "chat_updated",
  "member_added",
  "member_removed",
  "reactions_changed",
  "pins_changed",
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasMessage(f: Record<string, unknown>): boolean {
  const m = f.message;
  return isObject(m) && m.id !== undefined && m.chat_id !== undefined && typeof m.seq === "number";
}

export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  let f: unknown;
  try {
    f = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(f) || typeof f.type !== "string") return null;
  if (PERSISTED.has(f.type) && typeof f.cursor !== "string") return null;
  switch (f.type) {
    case "receive_message":
    case "message_edited":
      return hasMessage(f) ? (f as unknown as ServerFrame) : null;
    case "ack":
      return typeof f.client_msg_id === "string" && hasMessage(f) ? (f as unknown as ServerFrame) : null;
    case "chat_updated":
      return isObject(f.chat) ? (f as unknown as ServerFrame) : null;
    case "message_deleted":
    case "read":
      return typeof f.seq === "number" && f.chat_id !== undefined ? (f as unknown as ServerFrame) : null;
    case "reactions_changed":
      return Array.isArray(f.reactions) && f.chat_id !== undefined && f.message_id !== undefined
        ? (f as unknown as ServerFrame)
        : null;
    case "pins_changed":
      return typeof f.pinned === "boolean" && f.chat_id !== undefined ? (f as unknown as ServerFrame) : null;
    case "ready":
      return typeof f.cursor === "string" ? (f as unknown as ServerFrame) : null;
    default:
      return f as unknown as ServerFrame;
  }
}

export function isPersisted(f: ServerFrame): f is PersistedFrame {
  return PERSISTED.has(f.type) && "cursor" in f;
}
