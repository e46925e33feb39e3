import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { Id } from "../api/types";
import { useMessageSearch } from "../search/useMessageSearch";
import { moveBetweenItems, SearchResultList } from "./SearchResults";
import "../search/search.css";

/** "Search in this chat": a bar under the chat header; results open in place (?m=seq). */
export function ChatSearch({ chatId, onClose }: { chatId: Id; onClose: () => void }) {
  const [q, setQ] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const search = useMessageSearch(chatId);

  useEffect(() => {
    input.current?.focus();
  }, []);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (q.trim()) void search.run(q.trim());
  }

  function onKey(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      onClose();
      return;
    }
    if (e.target === input.current && e.key !== "ArrowDown") return;
    if (box.current && moveBetweenItems(box.current, e.key === "ArrowDown" && e.target === input.current ? "Home" : e.key, input.current)) {
      e.preventDefault();
    }
  }

  return (
    <div className="chat-search" ref={box} onKeyDown={onKey} role="search" aria-label="Search in this chat">
      <form onSubmit={submit}>
        <label htmlFor="chat-search-input" className="visually-hidden">
          Search in this chat
        </label>
        <input
          id="chat-search-input"
          ref={input}
          type="search"
          value={q}
          placeholder="Search in this chat"
          autoComplete="off"
          enterKeyHint="search"
          onChange={(e) => {
            setQ(e.target.value);
            if (!e.target.value.trim()) search.clear();
          }}
        />
        <button type="submit">Search</button>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </form>
      <SearchResultList
        results={search.results}
        loading={search.loading}
        error={search.error}
        hasMore={search.hasMore}
        onMore={() => void search.more()}
        showChat={false}
        label="Found in this chat"
      />
    </div>
  );
}
