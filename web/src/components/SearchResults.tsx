import { useEffect } from "react";
import { Link } from "react-router";
import type { SearchResult } from "../api/search";
import { realtime } from "../hooks/realtime";
import { highlightPieces, snippetStart } from "../search/text";
import { useChats } from "../store/chats";
import { displayName } from "./Avatar";
import { timeLabel } from "./chatTitle";

/** Where a result opens: the chat, scrolled to that message (see useJumpToMessage). */
export function resultHref(r: SearchResult): string {
  return `/chats/${encodeURIComponent(String(r.chat.id))}?m=${r.message.seq}`;
}

function Snippet({ r }: { r: SearchResult }) {
  const text = r.message.text ?? "";
  const start = snippetStart(text, r.highlights);
  const shifted = r.highlights.map(([s, e]) => [s - start, e - start] as [number, number]);
  const rest = Array.from(text).slice(start).join("");
  return (
    <>
      {start > 0 && "…"}
      {highlightPieces(rest, shifted).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </>
  );
}

/** One found message: chat, sender, time and the text with the matched words marked. */
export function SearchResultItem({ r, showChat = true }: { r: SearchResult; showChat?: boolean }) {
  const sender = useChats((s) => s.users[String(r.message.sender_id)]);
  useEffect(() => {
    if (!sender) void realtime.loadUser(r.message.sender_id);
  }, [sender, r.message.sender_id]);
  const chatName = r.chat.title?.trim() || (r.chat.kind === "direct" ? "Direct chat" : "Untitled chat");
  const who = displayName(sender);
  return (
    <li>
      <Link
        to={resultHref(r)}
        className="search-result"
        data-search-item=""
        aria-label={`${who}${showChat ? ` in ${chatName}` : ""}, ${timeLabel(r.message.created_at)}: ${r.message.text ?? ""}`}
      >
        <span className="search-result-top">
          <span className="search-result-chat">{showChat ? chatName : who}</span>
          <time className="search-result-time" dateTime={r.message.created_at}>
            {timeLabel(r.message.created_at)}
          </time>
        </span>
        <span className="search-result-text">
          {showChat && <span className="search-result-sender">{who}: </span>}
          <Snippet r={r} />
        </span>
      </Link>
    </li>
  );
}

export function SearchResultList(props: {
  results: SearchResult[] | null;
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  onMore: () => void;
  showChat?: boolean;
  label: string;
}) {
  const { results, loading, error, hasMore, onMore, showChat = true, label } = props;
  if (error) return <p className="search-empty" role="alert">{error}</p>;
  if (results === null) return loading ? <p className="search-empty">Searching…</p> : null;
  if (results.length === 0) return <p className="search-empty" role="status">{loading ? "Searching…" : "No messages found"}</p>;
  return (
    <>
      <p className="visually-hidden" role="status">{`${results.length}${hasMore ? "+" : ""} messages found`}</p>
      <ul className="search-list" aria-label={label}>
        {results.map((r) => (
          <SearchResultItem key={String(r.message.id)} r={r} showChat={showChat} />
        ))}
      </ul>
      {hasMore && (
        <button type="button" className="link small search-messages-button" data-search-item="" onClick={onMore} disabled={loading}>
          {loading ? "Loading…" : "More results"}
        </button>
      )}
    </>
  );
}

/** Arrow keys move between the results (and back to the box at the top); Enter opens one. */
export function moveBetweenItems(container: HTMLElement, key: string, input: HTMLInputElement | null): boolean {
  const items = Array.from(container.querySelectorAll<HTMLElement>("[data-search-item]"));
  const i = items.indexOf(document.activeElement as HTMLElement);
  let next: HTMLElement | null | undefined;
  if (key === "ArrowDown") next = items[Math.min(items.length - 1, i + 1)];
  else if (key === "ArrowUp") next = i <= 0 ? input : items[i - 1];
  else if (key === "Home") next = items[0];
  else if (key === "End") next = items[items.length - 1];
  else return false;
  next?.focus();
  return next != null;
}
