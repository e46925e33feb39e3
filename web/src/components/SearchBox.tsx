import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { NavLink } from "react-router";
import type { Chat } from "../api/types";
import { searchApi } from "../search/api";
import { matchesName } from "../search/text";
import { useMessageSearch } from "../search/useMessageSearch";
import { useChats } from "../store/chats";
import { Avatar } from "./Avatar";
import { chatTitle } from "./chatTitle";
import { moveBetweenItems, SearchResultList } from "./SearchResults";
import "../search/search.css";

const FILTER_DELAY_MS = 200;
const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

/** Chats whose name matches: the loaded ones at once, the server's `?q=` answer when it comes. */
function useChatFilter(q: string): Chat[] {
  const chats = useChats((s) => s.chats);
  const peers = useChats((s) => s.peers);
  const [remote, setRemote] = useState<Chat[]>([]);
  useEffect(() => {
    setRemote([]);
    if (!q.trim()) return;
    const timer = setTimeout(() => {
      searchApi.chats(q).then(
        (page) => setRemote(page.chats),
        () => setRemote([]), // a refused query (only punctuation) simply matches nothing more
      );
    }, FILTER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [q]);
  return useMemo(() => {
    if (!q.trim()) return [];
    const local = chats.filter((c) => matchesName(chatTitle(c, peers[String(c.id)]), q));
    const seen = new Set(local.map((c) => String(c.id)));
    return [...local, ...remote.filter((c) => !seen.has(String(c.id)))];
  }, [chats, peers, remote, q]);
}

/**
 * The box at the top of the sidebar (Ctrl+K / Cmd+K). Typing filters the chats; Enter or
 * "Search messages" lists matching messages below. With an empty box the sidebar shows its
 * usual content (`children`).
 */
export function SidebarSearch({ children }: { children: ReactNode }) {
  const [q, setQ] = useState("");
  const [searched, setSearched] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const peers = useChats((s) => s.peers);
  const matches = useChatFilter(q);
  const search = useMessageSearch();

  useEffect(() => {
    function onKey(e: globalThis.KeyboardEvent) {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
        e.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  function change(value: string) {
    setQ(value);
    if (searched && value.trim() !== searched) {
      setSearched("");
      search.clear();
    }
  }

  function searchMessages() {
    const text = q.trim();
    if (!text) return;
    setSearched(text);
    void search.run(text);
  }

  function onInputKey(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === "Enter") {
      e.preventDefault();
      searchMessages();
    } else if (e.key === "Escape") {
      e.preventDefault();
      change("");
    } else if (e.key === "ArrowDown" && panel.current) {
      e.preventDefault();
      moveBetweenItems(panel.current, "Home", input.current);
    }
  }

  function onPanelKey(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      input.current?.focus();
      return;
    }
    if (panel.current && moveBetweenItems(panel.current, e.key, input.current)) e.preventDefault();
  }

  const active = q.trim() !== "";
  return (
    <>
      <div className="search-box" role="search">
        <label htmlFor="sidebar-search" className="visually-hidden">
          Search chats and messages
        </label>
        <input
          id="sidebar-search"
          ref={input}
          type="search"
          value={q}
          placeholder={`Search (${isMac ? "⌘" : "Ctrl+"}K)`}
          autoComplete="off"
          enterKeyHint="search"
          onChange={(e) => change(e.target.value)}
          onKeyDown={onInputKey}
          aria-describedby="sidebar-search-hint"
        />
        <span id="sidebar-search-hint" className="visually-hidden">
          Typing filters chats. Press Enter to search messages, then the arrow keys to move through the results.
        </span>
      </div>
      {active ? (
        <div className="search-panel" ref={panel} onKeyDown={onPanelKey} data-testid="search-panel">
          <h2 className="search-section">Chats</h2>
          {matches.length === 0 ? (
            <p className="search-empty">No chats match</p>
          ) : (
            <ul className="search-list" aria-label="Matching chats">
              {matches.map((c) => {
                const title = chatTitle(c, peers[String(c.id)]);
                return (
                  <li key={String(c.id)}>
                    <NavLink to={`/chats/${encodeURIComponent(String(c.id))}`} className="chat-item" data-search-item="">
                      <Avatar name={title} />
                      <span className="chat-item-body">
                        <span className="chat-item-title">{title}</span>
                      </span>
                    </NavLink>
                  </li>
                );
              })}
            </ul>
          )}
          <h2 className="search-section">Messages</h2>
          {searched !== q.trim() ? (
            <button type="button" className="secondary search-messages-button" data-search-item="" onClick={searchMessages}>
              Search messages for “{q.trim()}”
            </button>
          ) : (
            <SearchResultList
              results={search.results}
              loading={search.loading}
              error={search.error}
              hasMore={search.hasMore}
              onMore={() => void search.more()}
              label="Found messages"
            />
          )}
        </div>
      ) : (
        children
      )}
    </>
  );
}
