import { useCallback, useEffect, useLayoutEffect, useRef } from "react";
import type { Id, User } from "../api/types";
import { sameId } from "../api/types";
import type { ChatMessage } from "../chat/messages";
import { displayName } from "./Avatar";
import { MessageBubble, type MessageActions } from "./MessageBubble";

interface Props {
  messages: ChatMessage[];
  me: Id | null;
  users: Record<string, User>;
  /** highest seq some other member has read (for "Seen") */
  othersRead: number;
  hasMoreBefore: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  actions: MessageActions;
  canModerate: boolean;
  showSenders: boolean;
}

const NEAR_BOTTOM_PX = 120;

/**
 * The message log. Scrolling near the top loads older pages (an IntersectionObserver on a
 * sentinel) and keeps the visible message in place; new messages scroll into view only when the
 * reader was already at the bottom (or sent them).
 */
export function MessageList(props: Props) {
  const { messages, me, users, othersRead, hasMoreBefore, loadingOlder, onLoadOlder, actions, canModerate, showSenders } =
    props;
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prev = useRef<{ first: string | null; last: string | null; height: number }>({ first: null, last: null, height: 0 });

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = messages[0]?.key ?? null;
    const lastMsg = messages[messages.length - 1];
    const last = lastMsg?.key ?? null;
    const p = prev.current;
    if (p.first !== null && first !== p.first && last === p.last) {
      // older messages were prepended: keep what the reader was looking at in place
      el.scrollTop += el.scrollHeight - p.height;
    } else if (last !== p.last && (atBottom.current || (lastMsg && sameId(lastMsg.sender_id, me)))) {
      el.scrollTop = el.scrollHeight;
      atBottom.current = true;
    }
    prev.current = { first, last, height: el.scrollHeight };
  }, [messages, me]);

  // the viewport changed (rotation, keyboard, window resize): stay pinned to the newest message
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = sentinel.current;
    const root = scroller.current;
    if (!el || !root || !hasMoreBefore) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) onLoadOlder();
      },
      { root, rootMargin: "200px 0px 0px 0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [hasMoreBefore, onLoadOlder, messages.length]);

  let lastOwnSeen = -1;
  let lastOwnSent = -1;
  messages.forEach((m, i) => {
    if (!sameId(m.sender_id, me) || m.seq === null) return;
    lastOwnSent = i;
    if (m.seq <= othersRead) lastOwnSeen = i;
  });

  return (
    <div className="scroller" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label="Message history">
      <div ref={sentinel} className="sentinel">
        {hasMoreBefore ? (
          <button type="button" className="link small" onClick={onLoadOlder} disabled={loadingOlder}>
            {loadingOlder ? "Loading older messages…" : "Load older messages"}
          </button>
        ) : (
          messages.length > 0 && <span className="muted small">Beginning of the conversation</span>
        )}
      </div>
      <ol className="messages" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
        {messages.map((m, i) => {
          const own = sameId(m.sender_id, me);
          const sender = users[String(m.sender_id)];
          const prevMsg = messages[i - 1];
          return (
            <MessageBubble
              key={m.key}
              message={m}
              own={own}
              senderName={displayName(sender)}
              showSender={showSenders && (!prevMsg || !sameId(prevMsg.sender_id, m.sender_id))}
              mentionsMe={m.mentions.some((u) => sameId(u, me))}
              seen={i === lastOwnSeen}
              showDelivery={i === lastOwnSent || i === lastOwnSeen}
              canModerate={canModerate}
              actions={actions}
            />
          );
        })}
      </ol>
    </div>
  );
}
