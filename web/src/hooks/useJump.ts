/** Go to a message by seq: scroll to it and focus it, loading older pages until it is there. */
import { useCallback } from "react";
import type { Id } from "../api/types";
import { oldestSeq } from "../chat/messages";
import { useChats } from "../store/chats";
import { realtime } from "./realtime";

const MAX_PAGES = 40;
const HIGHLIGHT_MS = 1600;

function find(seq: number): HTMLElement | null {
  return document.querySelector<HTMLElement>(`.messages li.message[data-seq="${seq}"]`);
}

export function useJump(chatId: Id | null) {
  return useCallback(
    async (seq: number) => {
      if (chatId === null) return;
      let el = find(seq);
      for (let i = 0; !el && i < MAX_PAGES; i++) {
        const list = useChats.getState().messages[String(chatId)] ?? [];
        const before = oldestSeq(list);
        if (before === null || before <= seq || before <= 1) break;
        await realtime.loadOlder(chatId, before);
        // let React commit the page before looking again
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        el = find(seq);
      }
      if (!el) return;
      el.scrollIntoView({ block: "center" });
      el.focus({ preventScroll: true });
      el.classList.add("highlight");
      setTimeout(() => el?.classList.remove("highlight"), HIGHLIGHT_MS);
    },
    [chatId],
  );
}
