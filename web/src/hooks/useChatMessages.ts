/** One chat's messages: initial load, older pages (infinite scroll), sending, read markers. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { describeError } from "../api";
import type { MessageActions } from "../components/MessageBubble";
import type { Id, Media, ReplyPreview } from "../api/types";
import { oldestSeq, type ChatMessage } from "../chat/messages";
import { useChats } from "../store/chats";
import { realtime } from "./realtime";

const NONE: ChatMessage[] = [];

export function useChatMessages(chatId: Id | null) {
  const key = chatId === null ? "" : String(chatId);
  const messages = useChats((s) => (chatId === null ? NONE : (s.messages[key] ?? NONE)));
  const loaded = useChats((s) => Boolean(s.loaded[key]));
  const hasMoreBefore = useChats((s) => s.hasMoreBefore[key] ?? true);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (chatId === null) return;
    useChats.getState().setActive(chatId);
    setError(null);
    realtime.loadNewest(chatId).then(
      () => realtime.markActiveRead(),
      (err: unknown) => setError(describeError(err)),
    );
    return () => {
      if (useChats.getState().activeChatId !== null && String(useChats.getState().activeChatId) === key) {
        useChats.getState().setActive(null);
      }
    };
  }, [chatId, key]);

  // new messages while the chat is open and visible count as read
  const newest = messages.length > 0 ? messages[messages.length - 1]?.seq : null;
  useEffect(() => {
    if (loaded && newest != null) realtime.markActiveRead();
  }, [loaded, newest]);

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

  return { messages, loaded, hasMoreBefore, loadingOlder, error, loadOlder, send, retry, typing, actions };
}
