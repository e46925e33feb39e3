/**
 * Compile-time check that the server's generated OpenAPI types (schema.d.ts, `npm run gen:api`)
 * still fit the client: if the server renames or retypes a field the client reads, or a path or
 * method the client calls disappears, `tsc` fails here instead of the UI failing at run time.
 * Types are looked up by path and method (schema names are not stable: the generator qualifies
 * them when two modules use the same class name). Responses must fit the client's types; id-free
 * request bodies must fit the server's (bodies with ids are not checked: ids stay opaque `Id` on
 * the client, and fields with server defaults show up as required in the schema).
 */
import type {
  EditRequest,
  EmailRequest,
  LoginRequest,
  ProfileRequest,
  ReadRequest,
  RefreshRequest,
  ResetRequest,
  TokenRequest,
} from "./endpoints";
import type { paths } from "./schema";
import type { Chat, ChatPage, Member, Message, MessagePage, PersistedFrame, Session, TokenPair, User } from "./types";

type Fits<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;
type Op<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];
type Req<P extends keyof paths, M extends keyof paths[P]> =
  Op<P, M> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type Res<P extends keyof paths, M extends keyof paths[P], C extends number> =
  Op<P, M> extends { responses: { [K in C]: { content: { "application/json": infer R } } } } ? R : never;

export type ContractChecks = [
  // responses the client reads
  Assert<Fits<Res<"/v1/auth/register", "post", 201>, { user: User }>>,
  Assert<Fits<Res<"/v1/auth/verify-email", "post", 200>, { user: User }>>,
  Assert<Fits<Res<"/v1/auth/login", "post", 200>, TokenPair & { user: User }>>,
  Assert<Fits<Res<"/v1/auth/refresh", "post", 200>, TokenPair>>,
  Assert<Fits<Res<"/v1/auth/sessions", "get", 200>, { sessions: Session[] }>>,
  Assert<Fits<Res<"/v1/users/me", "get", 200>, { user: User }>>,
  Assert<Fits<Res<"/v1/users/me", "patch", 200>, { user: User }>>,
  Assert<Fits<Res<"/v1/users/{user_id}", "get", 200>, { user: User }>>,
  Assert<Fits<Res<"/v1/users", "get", 200>, { users: User[] }>>,
  Assert<Fits<Res<"/v1/chats", "get", 200>, ChatPage>>,
  Assert<Fits<Res<"/v1/chats", "post", 201>, { chat: Chat }>>,
  Assert<Fits<Res<"/v1/chats/{chat_id}", "get", 200>, { chat: Chat }>>,
  Assert<Fits<Res<"/v1/chats/{chat_id}/members", "get", 200>, { members: Member[]; next_cursor: string | null }>>,
  Assert<Fits<Res<"/v1/chats/{chat_id}/messages", "get", 200>, MessagePage>>,
  Assert<Fits<Res<"/v1/chats/{chat_id}/messages", "post", 201>, { message: MessagePage["messages"][number] }>>,
  Assert<Fits<Res<"/v1/sync", "get", 200>, { events: PersistedFrame[]; cursor: string; has_more: boolean }>>,
  Assert<Fits<Res<"/v1/chats/{chat_id}/pins", "get", 200>, { messages: Message[] }>>,
  Assert<
    Fits<
      Res<"/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", "get", 200>,
      { users: User[]; next_cursor: string | null }
    >
  >,
  // request bodies the client sends
  Assert<Fits<LoginRequest, Req<"/v1/auth/login", "post">>>,
  Assert<Fits<EmailRequest, Req<"/v1/auth/resend-verification", "post">>>,
  Assert<Fits<EmailRequest, Req<"/v1/auth/password/forgot", "post">>>,
  Assert<Fits<TokenRequest, Req<"/v1/auth/verify-email", "post">>>,
  Assert<Fits<RefreshRequest, Req<"/v1/auth/refresh", "post">>>,
  Assert<Fits<RefreshRequest, Req<"/v1/auth/logout", "post">>>,
  Assert<Fits<ResetRequest, Req<"/v1/auth/password/reset", "post">>>,
  Assert<Fits<ProfileRequest, Req<"/v1/users/me", "patch">>>,
  Assert<Fits<ReadRequest, Req<"/v1/chats/{chat_id}/read", "post">>>,
  Assert<Fits<EditRequest, Req<"/v1/chats/{chat_id}/messages/{message_id}", "patch">>>,
  // the remaining calls exist with that method
  Op<"/v1/auth/sessions/{session_id}", "delete">,
  Op<"/v1/chats/{chat_id}/messages/{message_id}", "delete">,
  Op<"/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", "put">,
  Op<"/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", "delete">,
  Op<"/v1/chats/{chat_id}/pins/{message_id}", "put">,
  Op<"/v1/chats/{chat_id}/pins/{message_id}", "delete">,
];
