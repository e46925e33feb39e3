/**
 * Domain types of the public contract (docs/api.md, v1 and v1.1).
 *
 * REST shapes are checked against the server's generated OpenAPI types (schema.d.ts) in
 * contract.ts, so a server change that breaks these fails `tsc`. WebSocket frames are not in
 * OpenAPI and are written here from the contract.
 */

/** IDs are opaque: integers today, strings tomorrow. Compare with sameId(). */
export type Id = number | string;

export function sameId(a: Id | null | undefined, b: Id | null | undefined): boolean {
  return a != null && b != null && String(a) === String(b);
}

export interface User {
  id: Id;
  username: string | null; // null once the account is deleted ("Deleted account")
  display_name: string | null;
  bio: string | null;
  avatar_url: string | null;
  created_at: string;
  email?: string;
  /** GET /v1/users/me only */
  unread_notifications?: number;
}

export interface Media {
  id: Id;
  filename: string;
  content_type: string;
  size: number;
  status: string;
  created_at: string;
  width?: number | null;
  height?: number | null;
  download_url?: string | null;
}

export interface Message {
  id: Id;
  chat_id: Id;
  seq: number;
  sender_id: Id;
  client_msg_id: string | null;
  text: string | null;
  reply_to_id: Id | null;
  attachments: Media[];
  mentions: Id[];
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  // v1.1 (absent from an older server)
  reply_to?: ReplyPreview | null;
  reactions?: Reaction[];
  forwarded_from?: ForwardedFrom | null;
  pinned?: boolean;
}

/** What a reply shows of the message it answers (drawn from that message's current state). */
export interface ReplyPreview {
  id: Id;
  seq: number;
  sender_id: Id;
  text: string | null;
  deleted: boolean;
  has_attachments: boolean;
}

export interface Reaction {
  emoji: string;
  count: number;
  /** in persisted frames always false: a client tracks its own from reactions_changed.user_id */
  me?: boolean;
}

/** chat_id/message_id are null for readers who are not members of the original chat. */
export interface ForwardedFrom {
  sender_id: Id;
  sender_name: string;
  chat_id: Id | null;
  message_id: Id | null;
  created_at: string;
}

export type ChatKind = "direct" | "group" | "channel";
export type Role = "owner" | "admin" | "member";

export interface Chat {
  id: Id;
  kind: ChatKind;
  title: string | null;
  description: string | null;
  created_at: string;
  member_count: number;
  role: Role | null;
  last_message: Message | null;
  last_seq: number;
  unread_count: number;
  /** our read marker; in `chat_updated` frames only a floor (the lowest marker of any member) */
  last_read_seq: number;
  /** the highest read marker of any other member ("Seen"); in `chat_updated` frames only a floor (the second highest) */
  others_read_seq: number;
}

export interface Member {
  user: User;
  role: Role;
  joined_at: string;
  last_read_seq: number;
}

export interface UserPresence {
  user_id: Id;
  online: boolean;
  last_seen_at: string | null;
}

export interface UserSettings {
  email_mentions: boolean;
  email_direct_messages: boolean;
  email_group_messages: boolean;
  show_last_seen: boolean;
}

export interface ChatSettings {
  muted: boolean;
  notify_all: boolean;
}

export interface NotificationPage {
  notifications: Notification[];
  next_cursor: string | null;
}

export interface Session {
  id: Id;
  created_at: string;
  last_used_at: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  user?: User;
}

export interface MessagePage {
  messages: Message[];
  has_more: boolean;
}

export interface ChatPage {
  chats: Chat[];
  next_cursor: string | null;
}

export interface SyncPage {
  events: PersistedFrame[];
  cursor: string;
  has_more: boolean;
}

// ---- WebSocket frames -------------------------------------------------------------------

export type PersistedFrame =
  | { type: "receive_message"; cursor: string; message: Message }
  | { type: "message_edited"; cursor: string; message: Message }
  | { type: "message_deleted"; cursor: string; chat_id: Id; message_id: Id; seq: number }
  | { type: "chat_updated"; cursor: string; chat: Chat }
  | { type: "member_added"; cursor: string; chat_id: Id; user_id: Id }
  | { type: "member_removed"; cursor: string; chat_id: Id; user_id: Id }
  | {
      type: "reactions_changed";
      cursor: string;
      chat_id: Id;
      message_id: Id;
      seq: number;
      user_id: Id;
      emoji: string;
      added: boolean;
      reactions: Reaction[];
    }
  | { type: "pins_changed"; cursor: string; chat_id: Id; message_id: Id; pinned: boolean; by_user_id: Id };

export interface Notification {
  id: Id;
  kind: "mention" | "message";
  chat_id: Id;
  message_id: Id;
  created_at: string;
  read: boolean;
}

export type ServerFrame =
  | PersistedFrame
  | { type: "ready"; user_id: Id; cursor: string; presence?: Id[] }
  | { type: "ack"; client_msg_id: string; message: Message; ref?: string }
  | { type: "read"; chat_id: Id; user_id: Id; seq: number }
  | { type: "typing"; chat_id: Id; user_id: Id }
  | { type: "presence"; user_id: Id; online: boolean }
  | { type: "notification"; notification: Notification }
  | { type: "error"; code: string; message: string; ref?: string }
  | { type: "pong"; ref?: string };

export type ClientFrame =
  | { type: "auth"; token: string }
  | {
      type: "send_message";
      chat_id: Id;
      client_msg_id: string;
      text?: string;
      reply_to_id?: Id | null;
      attachment_ids?: Id[];
      forward?: { chat_id: Id; message_id: Id };
      ref?: string;
    }
  | { type: "typing"; chat_id: Id }
  | { type: "read"; chat_id: Id; seq: number }
  | { type: "resume"; cursor: string }
  | { type: "ping"; ref?: string };

export interface ApiErrorBody {
  error: { code: string; message: string };
}
