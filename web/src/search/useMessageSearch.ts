/** Message search state for one box: results, paging, loading and errors. */
import { useCallback, useRef, useState } from "react";
import { describeError } from "../api";
import type { Id } from "../api/types";
import type { SearchResult } from "../api/search";
import { searchApi } from "./api";

export function useMessageSearch(chatId?: Id) {
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const current = useRef({ q: "", gen: 0 });

  const run = useCallback(
    async (q: string, more = false) => {
      const gen = ++current.current.gen;
      current.current.q = q;
      setLoading(true);
      setError(null);
      try {
        const page = await searchApi.messages(q, { chatId, cursor: more ? cursor : null });
        if (gen !== current.current.gen) return; // a newer search started meanwhile
        setResults((prev) => (more && prev ? [...prev, ...page.results] : page.results));
        setCursor(page.next_cursor);
      } catch (err) {
        if (gen === current.current.gen) setError(describeError(err));
      } finally {
        if (gen === current.current.gen) setLoading(false);
      }
    },
    [chatId, cursor],
  );

  const clear = useCallback(() => {
    current.current.gen++;
    setResults(null);
    setCursor(null);
    setError(null);
    setLoading(false);
  }, []);

  return { results, hasMore: cursor !== null, loading, error, run, more: () => run(current.current.q, true), clear };
}
