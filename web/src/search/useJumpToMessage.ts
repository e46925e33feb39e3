/**
 * Opening a chat at a message (`/chats/:id?m=SEQ`, from a search result): load the pages
 * between the newest one and that message (older pages, so the list stays contiguous and
 * scrolling either way just works), scroll it to the middle and flash it.
 */
import { useEffect } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../api";
import { oldestSeq } from "../chat/messages";
import { useChats } from "../store/chats";

const PAGE = 100;
// A few messages above the target, so it is not the first thing in the list.
const CONTEXT = 10;
const FLASH_MS = 2500;

async function loadDownTo(chatId: string, seq: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const list = useChats.getState().messages[chatId] ?? [];
    const oldest = oldestSeq(list);
    if (oldest === null || oldest <= Math.max(1, seq - CONTEXT)) return;
    const page = await api.messages.page(chatId, { before: oldest, limit: PAGE });
    useChats.getState().mergePage(chatId, page.messages, { hasMoreBefore: page.has_more });
    if (page.messages.length === 0) return;
  }
}

function reveal(seq: number): boolean {
  const el = document.querySelector<HTMLElement>(`.chat-detail li[data-seq="${seq}"]`);
  if (!el) return false;
  el.scrollIntoView({ block: "center" });
  el.classList.add("search-hit");
  el.setAttribute("tabindex", "-1");
  el.focus({ preventScroll: true });
  setTimeout(() => el.classList.remove("search-hit"), FLASH_MS);
  return true;
}

export function useJumpToMessage(chatId: string): void {
  const [params, setParams] = useSearchParams();
  const raw = params.get("m");
  const seq = raw && /^\d+$/.test(raw) ? Number(raw) : null;
  const loaded = useChats((s) => Boolean(s.loaded[chatId]));

  useEffect(() => {
    if (seq === null || !loaded) return;
    let cancelled = false;
    void (async () => {
      try {
        await loadDownTo(chatId, seq);
      } catch {
        // the message list shows its own errors; stay where we are
      }
      if (cancelled) return;
      // after React has drawn the loaded pages
      requestAnimationFrame(() => {
        if (!cancelled) reveal(seq);
        setParams(
          (p) => {
            p.delete("m");
            return p;
          },
          { replace: true },
        );
      });
    })();
    return () => {
      cancelled = true;
    };
  }, [chatId, seq, loaded, setParams]);
}
