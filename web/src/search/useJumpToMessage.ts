/**
 * Opening a chat at a message (`/chats/:id?m=SEQ`, from a search result): load the pages
 * between the newest one and that message (older pages, so the list stays contiguous and
 * scrolling either way just works), scroll it to the middle and flash it.
 */
import { useEffect } from "react";
import { useSearchParams } from "react-router";
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

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
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
      // Two frames: the first draws the loaded pages and runs the list's own ResizeObserver
      // (which pins a list that was at the bottom to the bottom); scrolling in the second frame
      // is not undone by it, and the scroll event then tells the list it is no longer there.
      await nextFrame();
      await nextFrame();
      if (!cancelled) reveal(seq);
      requestAnimationFrame(() => {
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
