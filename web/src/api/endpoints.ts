/** Typed REST calls, one function per endpoint of the contract. */
import type { ApiClient } from "./client";
import type {
  Chat,
  ChatKind,
  ChatPage,
  Id,
  Media,
  ChatSettings,
  Member,
  Message,
  MessagePage,
  Role,
  NotificationPage,
  Session,
  SyncPage,
  TokenPair,
  User,
  UserPresence,
  UserSettings,
} from "./types";

const enc = encodeURIComponent;

export interface UploadTarget {
  url: string;
  method: string;
  headers: Record<string, string>;
  fields: Record<string, string>;
}

// Request bodies the client sends (checked against the server's in contract.ts).
export type LoginRequest = { login: string; password: string };
export type EmailRequest = { email: string };
export type TokenRequest = { token: string };
export type RefreshRequest = { refresh_token: string };
export type ResetRequest = { token: string; password: string };
export type ProfileRequest = { display_name?: string; bio?: string };
export type ReadRequest = { seq: number };
export type EditRequest = { text: string };
export type UserSettingsRequest = Partial<UserSettings>;
export type ChatSettingsRequest = Partial<ChatSettings>;
export type NotificationsReadRequest = { ids?: number[]; all?: boolean };

export function endpoints(api: ApiClient) {
  return {
    auth: {
      register: (body: { email: string; username: string; password: string; display_name?: string }) =>
        api.request<{ user: User }>("POST", "/v1/auth/register", { body, auth: false }),
      verifyEmail: (token: string) =>
        api.request<{ user: User }>("POST", "/v1/auth/verify-email", { body: { token } satisfies TokenRequest, auth: false }),
      resendVerification: (email: string) =>
        api.request<void>("POST", "/v1/auth/resend-verification", { body: { email } satisfies EmailRequest, auth: false }),
      login: (login: string, password: string) =>
        api.request<TokenPair & { user: User }>("POST", "/v1/auth/login", { body: { login, password } satisfies LoginRequest, auth: false }),
      logout: (refresh_token: string) =>
        api.request<void>("POST", "/v1/auth/logout", { body: { refresh_token } satisfies RefreshRequest }),
      forgotPassword: (email: string) =>
        api.request<void>("POST", "/v1/auth/password/forgot", { body: { email } satisfies EmailRequest, auth: false }),
      resetPassword: (token: string, password: string) =>
        api.request<unknown>("POST", "/v1/auth/password/reset", { body: { token, password } satisfies ResetRequest, auth: false }),
      sessions: () => api.request<{ sessions: Session[] }>("GET", "/v1/auth/sessions"),
      endSession: (id: Id) => api.request<void>("DELETE", `/v1/auth/sessions/${enc(String(id))}`),
    },
    users: {
      me: () => api.request<{ user: User }>("GET", "/v1/users/me"),
      updateMe: (body: ProfileRequest & { avatar_media_id?: Id }) =>
        api.request<{ user: User }>("PATCH", "/v1/users/me", { body }),
      get: (id: Id) => api.request<{ user: User }>("GET", `/v1/users/${enc(String(id))}`),
      search: (q: string, limit = 10) => api.request<{ users: User[] }>("GET", "/v1/users", { query: { q, limit } }),
      presence: (ids: Id[]) =>
        api.request<{ presence: UserPresence[] }>("GET", "/v1/presence", { query: { user_ids: ids.map(String).join(",") } }),
      settings: () => api.request<{ settings: UserSettings }>("GET", "/v1/users/me/settings"),
      updateSettings: (body: UserSettingsRequest) =>
        api.request<{ settings: UserSettings }>("PATCH", "/v1/users/me/settings", { body }),
    },
    notifications: {
      list: (opts: { cursor?: string | null; limit?: number; unread?: boolean } = {}) =>
        api.request<NotificationPage>("GET", "/v1/notifications", {
          query: { cursor: opts.cursor, limit: opts.limit ?? 30, ...(opts.unread ? { unread: "true" } : {}) },
        }),
      markRead: (body: NotificationsReadRequest) => api.request<void>("POST", "/v1/notifications/read", { body }),
    },
    chats: {
      list: (cursor?: string | null, limit = 50) =>
        api.request<ChatPage>("GET", "/v1/chats", { query: { cursor, limit } }),
      get: (id: Id) => api.request<{ chat: Chat }>("GET", `/v1/chats/${enc(String(id))}`),
      create: (body: { kind: ChatKind; title?: string; member_ids: Id[] }) =>
        api.request<{ chat: Chat }>("POST", "/v1/chats", { body }),
      members: (id: Id, cursor?: string | null, limit = 50) =>
        api.request<{ members: Member[]; next_cursor: string | null }>("GET", `/v1/chats/${enc(String(id))}/members`, {
          query: { cursor, limit },
        }),
      update: (id: Id, body: { title?: string; description?: string }) =>
        api.request<{ chat: Chat }>("PATCH", `/v1/chats/${enc(String(id))}`, { body }),
      addMember: (id: Id, user_id: Id) =>
        api.request<unknown>("POST", `/v1/chats/${enc(String(id))}/members`, { body: { user_id } }),
      setRole: (id: Id, userId: Id, role: Role) =>
        api.request<unknown>("PATCH", `/v1/chats/${enc(String(id))}/members/${enc(String(userId))}`, { body: { role } }),
      /** yourself: leave; owner/admin: remove someone */
      removeMember: (id: Id, userId: Id) =>
        api.request<void>("DELETE", `/v1/chats/${enc(String(id))}/members/${enc(String(userId))}`),
      markRead: (id: Id, seq: number) =>
        api.request<void>("POST", `/v1/chats/${enc(String(id))}/read`, { body: { seq } satisfies ReadRequest }),
      settings: (id: Id) => api.request<{ settings: ChatSettings }>("GET", `/v1/chats/${enc(String(id))}/settings`),
      updateSettings: (id: Id, body: ChatSettingsRequest) =>
        api.request<{ settings: ChatSettings }>("PATCH", `/v1/chats/${enc(String(id))}/settings`, { body }),
    },
    messages: {
      page: (chatId: Id, opts: { before?: number; after?: number; limit?: number } = {}) =>
        api.request<MessagePage>("GET", `/v1/chats/${enc(String(chatId))}/messages`, {
          query: { before: opts.before, after: opts.after, limit: opts.limit ?? 50 },
        }),
      send: (
        chatId: Id,
        body: { client_msg_id: string; text?: string; reply_to_id?: Id | null; attachment_ids?: Id[] },
      ) =>
        api.request<{ message: Message }>("POST", `/v1/chats/${enc(String(chatId))}/messages`, { body }),
      edit: (chatId: Id, messageId: Id, text: string) =>
        api.request<{ message: Message }>(
          "PATCH",
          `/v1/chats/${enc(String(chatId))}/messages/${enc(String(messageId))}`,
          { body: { text } satisfies EditRequest },
        ),
      remove: (chatId: Id, messageId: Id) =>
        api.request<void>("DELETE", `/v1/chats/${enc(String(chatId))}/messages/${enc(String(messageId))}`),
    },
    conversation: {
      react: (chatId: Id, messageId: Id, emoji: string, on: boolean) =>
        api.request<void>(
          on ? "PUT" : "DELETE",
          `/v1/chats/${enc(String(chatId))}/messages/${enc(String(messageId))}/reactions/${enc(emoji)}`,
        ),
      reactors: (chatId: Id, messageId: Id, emoji: string, limit = 20) =>
        api.request<{ users: User[]; next_cursor: string | null }>(
          "GET",
          `/v1/chats/${enc(String(chatId))}/messages/${enc(String(messageId))}/reactions/${enc(emoji)}`,
          { query: { limit } },
        ),
      pin: (chatId: Id, messageId: Id, on: boolean) =>
        api.request<void>(on ? "PUT" : "DELETE", `/v1/chats/${enc(String(chatId))}/pins/${enc(String(messageId))}`),
      pins: (chatId: Id) => api.request<{ messages: Message[] }>("GET", `/v1/chats/${enc(String(chatId))}/pins`),
      forward: (toChatId: Id, clientMsgId: string, from: { chat_id: Id; message_id: Id }) =>
        api.request<{ message: Message }>("POST", `/v1/chats/${enc(String(toChatId))}/messages`, {
          body: { client_msg_id: clientMsgId, forward: from },
        }),
    },
    media: {
      create: (body: { filename: string; content_type: string; size: number }) =>
        api.request<{ media: Media; upload: UploadTarget; expires_at: string }>("POST", "/v1/media", { body }),
      complete: (id: Id) => api.request<{ media: Media }>("POST", `/v1/media/${enc(String(id))}/complete`),
      get: (id: Id) => api.request<{ media: Media }>("GET", `/v1/media/${enc(String(id))}`),
    },
    sync: (since?: string | null, limit = 500) =>
      api.request<SyncPage>("GET", "/v1/sync", { query: { since, limit } }),
  };
}

export type Endpoints = ReturnType<typeof endpoints>;
