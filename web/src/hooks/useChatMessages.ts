/** One chat's messages: initial load, older pages (infinite scroll), sending, read markers. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { describeError } from "../api";
import type { MessageActions } from "../components/MessageBubble";
import type { Id, Media, ReplyPreview } from "../api/types";
import { oldestSeq, type ChatMessage } from "../chat/messages";
import { useChats } from "../store/chats";
import { realtime } from "./realtime";

const NONE: ChatMessage[] = [];
// Pages of 50 loaded back at most to reach the first unread or a message opened from the inbox.
const MAX_BACK_PAGES = 20;

/** Load older pages until `done` holds for the loaded list (bounded). */
async function loadBackUntil(chatId: Id, done: (list: ChatMessage[]) => boolean): Promise<void> {
  for (let i = 0; i < MAX_BACK_PAGES; i++) {
    const s = useChats.getState();
    const list = s.messages[String(chatId)] ?? [];
    if (done(list) || s.hasMoreBefore[String(chatId)] === false) return;
    const before = oldestSeq(list);
    if (before === null || before <= 1) return;
    await realtime.loadOlder(chatId, before);
  }
}

/**
 * `focus`: a message id to bring into view (opened from the inbox or a notification).
 * `divider`: our read marker when the chat was opened with unread messages (the "New messages"
 * line goes after it), taken before the chat is marked read.
 */
export function useChatMessages(chatId: Id | null, focus: string | null = null) {
  const key = chatId === null ? "" : String(chatId);
  const messages = useChats((s) => (chatId === null ? NONE : (s.messages[key] ?? NONE)));
  const loaded = useChats((s) => Boolean(s.loaded[key]));
  const hasMoreBefore = useChats((s) => s.hasMoreBefore[key] ?? true);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const chatsLoaded = useChats((s) => s.chatsLoaded);
  const [divider, setDivider] = useState<number | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    if (chatId === null) return;
    useChats.getState().setActive(chatId);
    return () => {
      if (useChats.getState().activeChatId !== null && String(useChats.getState().activeChatId) === key) {
        useChats.getState().setActive(null);
      }
    };
  }, [chatId, key]);

  // Once the chat list is in (it carries our read marker), load the newest page, then back to
  // the first unread message (or the focused one), and only then mark the chat read.
  useEffect(() => {
    if (chatId === null || !chatsLoaded) return;
    let live = true;
    const chat = useChats.getState().chats.find((c) => String(c.id) === key);
    const marker = chat && chat.unread_count > 0 ? chat.last_read_seq : null;
    setDivider(marker);
    setError(null);
    setReady(false);
    (async () => {
      await realtime.loadNewest(chatId);
      if (focus !== null) await loadBackUntil(chatId, (list) => list.some((m) => String(m.id) === focus));
      else if (marker !== null) await loadBackUntil(chatId, (list) => (oldestSeq(list) ?? 0) <= marker + 1);
      if (!live) return;
      setReady(true);
      realtime.markActiveRead();
    })().catch((err: unknown) => {
      if (live) setError(describeError(err));
    });
    return () => {
      live = false;
    };
  }, [chatId, key, chatsLoaded, focus]);

  // new messages while the chat is open and visible count as read
  const newest = messages.length > 0 ? messages[messages.length - 1]?.seq : null;
  useEffect(() => {
    if (ready && newest != null) realtime.markActiveRead();
  }, [ready, newest]);

  const loadOlder = useCallback(async () => {
    // before the newest page is in, "older" has no anchor yet
    if (chatId === null || !loaded || loadingOlder || !hasMoreBefore) return;
    const before = oldestSeq(useChats.getState().messages[key] ?? []);
    if (before === null || before <= 1) {
      useChats.getState().mergePage(chatId, [], { hasMoreBefore: false });
      return;
    }
    setLoadingOlder(true);
    try {
      await realtime.loadOlder(chatId, before);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoadingOlder(false);
    }
  }, [chatId, key, loaded, loadingOlder, hasMoreBefore]);

  const send = useCallback(
    (text: string, attachments: Media[] = [], replyTo: ReplyPreview | null = null) => {
      if (chatId !== null) realtime.send(chatId, text, attachments, replyTo);
    },
    [chatId],
  );
  const retry = useCallback(
    (clientMsgId: string) => {
      if (chatId !== null) realtime.retry(chatId, clientMsgId);
    },
    [chatId],
  );
  const typing = useCallback(() => {
    if (chatId !== null) realtime.typing(chatId);
  }, [chatId]);

  const actions = useMemo<Pick<MessageActions, "onRetry" | "onEdit" | "onDelete">>(
    () => ({
      onRetry: retry,
      onEdit: async (m, text) => {
        if (m.id === null) return;
        try {
          await realtime.edit(m.chat_id, m.id, text);
        } catch (err) {
          throw new Error(describeError(err));
        }
      },
      onDelete: async (m) => {
        if (m.id === null || m.seq === null) return;
        try {
          await realtime.remove(m.chat_id, m.id, m.seq);
        } catch (err) {
          throw new Error(describeError(err));
        }
      },
    }),
    [retry],
  );

  return { messages, loaded, ready, divider, hasMoreBefore, loadingOlder, error, loadOlder, send, retry, typing, actions };
}
