/** Search calls: message search and the chat-list filter (docs/api.md, v1.1 "Search"). */
import type { ApiClient } from "./client";
import type { ChatKind, ChatPage, Id, Message } from "./types";

export interface SearchResult {
  message: Message;
  chat: { id: Id; kind: ChatKind; title: string | null };
  /** code point offsets into message.text, end exclusive */
  highlights: [number, number][];
}

export interface SearchPage {
  results: SearchResult[];
  next_cursor: string | null;
}

export interface SearchOptions {
  chatId?: Id;
  cursor?: string | null;
  limit?: number;
}

export function searchEndpoints(api: ApiClient) {
  return {
    messages: (q: string, opts: SearchOptions = {}) =>
      api.request<SearchPage>("GET", "/v1/search/messages", {
        query: { q, chat_id: opts.chatId === undefined ? undefined : String(opts.chatId), cursor: opts.cursor, limit: opts.limit ?? 20 },
      }),
    chats: (q: string, limit = 20) => api.request<ChatPage>("GET", "/v1/chats", { query: { q, limit } }),
  };
}
