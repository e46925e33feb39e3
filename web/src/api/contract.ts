/**
 * Compile-time check that the server's generated OpenAPI types (schema.d.ts, `npm run gen:api`)
 * still fit the client's domain types: if the server renames or retypes a field the client
 * reads, `tsc` fails here instead of the UI failing at run time. Only the response direction is
 * checked; request ids stay opaque (`Id`) on the client.
 */
import type { components, paths } from "./schema";
import type {
  Chat,
  ChatPage,
  Member,
  Message,
  MessagePage,
  PersistedFrame,
  Session,
  TokenPair,
  User,
} from "./types";

type S = components["schemas"];
type Fits<Server, Client> = [Server] extends [Client] ? true : false;
type Assert<T extends true> = T;

export type ContractChecks = [
  Assert<Fits<S["User"], User>>,
  Assert<Fits<S["Me"], User>>,
  Assert<Fits<S["Message"], Message>>,
  Assert<Fits<S["Chat"], Chat>>,
  Assert<Fits<S["ChatPage"], ChatPage>>,
  Assert<Fits<S["Member"], Member>>,
  Assert<Fits<S["MessagePage"], MessagePage>>,
  Assert<Fits<S["TokenPair"], TokenPair & { user: User }>>,
  Assert<Fits<S["SessionInfo"], Session>>,
  Assert<Fits<S["SyncResponse"]["events"][number], PersistedFrame>>,
  Assert<Fits<S["MeBody"], { user: User }>>,
  Assert<Fits<S["UserPage"], { users: User[] }>>,
  // every path the client calls exists with that method
  paths["/v1/auth/register"]["post"],
  paths["/v1/auth/verify-email"]["post"],
  paths["/v1/auth/resend-verification"]["post"],
  paths["/v1/auth/login"]["post"],
  paths["/v1/auth/refresh"]["post"],
  paths["/v1/auth/logout"]["post"],
  paths["/v1/auth/password/forgot"]["post"],
  paths["/v1/auth/password/reset"]["post"],
  paths["/v1/auth/sessions"]["get"],
  paths["/v1/auth/sessions/{session_id}"]["delete"],
  paths["/v1/users/me"]["get"],
  paths["/v1/users/me"]["patch"],
  paths["/v1/users/{user_id}"]["get"],
  paths["/v1/users"]["get"],
  paths["/v1/chats"]["get"],
  paths["/v1/chats"]["post"],
  paths["/v1/chats/{chat_id}"]["get"],
  paths["/v1/chats/{chat_id}/members"]["get"],
  paths["/v1/chats/{chat_id}/read"]["post"],
  paths["/v1/chats/{chat_id}/messages"]["get"],
  paths["/v1/chats/{chat_id}/messages"]["post"],
  paths["/v1/chats/{chat_id}/messages/{message_id}"]["patch"],
  paths["/v1/chats/{chat_id}/messages/{message_id}"]["delete"],
  paths["/v1/sync"]["get"],
];
