import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import type { Id, User } from "../api/types";
import { sameId } from "../api/types";
import type { ChatMessage } from "../chat/messages";
import { continuesRun, dayKey, dayLabel } from "../format/timeline";
import { displayName } from "./Avatar";
import { MessageBubble, type MessageActions } from "./MessageBubble";
import { SeenBy } from "./SeenBy";

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
  canPin: boolean;
  showSenders: boolean;
  /** the reader's username, to highlight mentions of them */
  myUsername?: string | null;
  /** our read marker when the chat opened with unread messages: "New messages" goes after it */
  dividerAfter?: number | null;
  /** a message id to scroll to and highlight (opened from the inbox) */
  focusId?: string | null;
  /** the first pages are in: place the view (divider, focused message or bottom) once */
  ready?: boolean;
  /** groups: other members' read markers (user id -> seq), for "Seen by N" */
  readers?: Record<string, number> | null;
}

const NEAR_BOTTOM_PX = 120;

/**
 * The message log. Scrolling near the top loads older pages (an IntersectionObserver on a
 * sentinel) and keeps the visible message in place; new messages scroll into view only when the
 * reader was already at the bottom (or sent them). A ResizeObserver on the content keeps the view
 * pinned to the bottom while it grows after render (an image's box, a late font), and the
 * browser's own scroll anchoring is off (CSS) so the two never adjust the same change twice.
 *
 * Keyboard: the list is one tab stop (a roving tabindex): the newest message, or the last one
 * focused, is in the tab order; arrows, Page Up/Down, Home and End move between messages, and a
 * message's own buttons are in the tab order only while it is the current one.
 */
export function MessageList(props: Props) {
  const { messages, me, users, othersRead, hasMoreBefore, loadingOlder, onLoadOlder, actions, canModerate, canPin, showSenders } =
    props;
  const myUsername = props.myUsername ?? null;
  const { dividerAfter = null, focusId = null, ready = true, readers = null } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const content = useRef<HTMLOListElement>(null);
  const prev = useRef<{ first: string | null; last: string | null; height: number }>({ first: null, last: null, height: 0 });
  const [current, setCurrent] = useState<string | null>(null);
  const currentKey = current !== null && messages.some((m) => m.key === current) ? current : (messages[messages.length - 1]?.key ?? null);

  // what the view was last placed for (the focused message id, or "-" for divider/bottom)
  const placed = useRef<string | null>(null);
  // scrolled up: the "jump to latest" button, with the number of messages that arrived since
  const [away, setAway] = useState(false);
  const [arrived, setArrived] = useState(0);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    setAway(!atBottom.current);
    if (atBottom.current) setArrived(0);
  }, []);

  const jumpToLatest = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setAway(false);
    setArrived(0);
    // the newest message takes the list's tab stop and the focus (the button goes away)
    const newest = content.current?.querySelector<HTMLElement>(":scope > li.message:last-of-type");
    if (newest?.dataset.key) setCurrent(newest.dataset.key);
    newest?.focus({ preventScroll: true });
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = messages[0]?.key ?? null;
    const lastMsg = messages[messages.length - 1];
    const last = lastMsg?.key ?? null;
    const p = prev.current;
    const placeKey = focusId ?? "-";
    if (ready && placed.current !== placeKey && messages.length > 0) {
      // first placement: the focused message, else the first unread, else the newest
      placed.current = placeKey;
      const target = focusId
        ? el.querySelector<HTMLElement>(`li.message[data-id="${CSS.escape(focusId)}"]`)
        : dividerAfter !== null
          ? el.querySelector<HTMLElement>("li.unread-divider")
          : null;
      if (target) {
        // below the sticky day label, which would cover it otherwise
        const sticky = el.querySelector<HTMLElement>(".day-separator")?.offsetHeight ?? 0;
        el.scrollTop = Math.max(0, target.offsetTop - (focusId ? el.clientHeight / 3 : sticky + 12));
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
        setAway(!atBottom.current);
      } else {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
      }
    } else if (p.first !== null && first !== p.first && last === p.last) {
      // older messages were prepended: keep what the reader was looking at in place
      el.scrollTop += el.scrollHeight - p.height;
    } else if (last !== p.last && (atBottom.current || (lastMsg && sameId(lastMsg.sender_id, me)))) {
      el.scrollTop = el.scrollHeight;
      atBottom.current = true;
      setAway(false);
      setArrived(0);
    } else if (last !== p.last && p.last !== null) {
      // scrolled up while messages arrive: count them for the "jump to latest" button
      const from = messages.findIndex((m) => m.key === p.last);
      const added = messages.slice(from + 1).filter((m) => !sameId(m.sender_id, me)).length;
      if (added > 0) setArrived((n) => n + added);
    }
    prev.current = { first, last, height: el.scrollHeight };
  }, [messages, me, ready, focusId, dividerAfter]);

  // the viewport changed (rotation, keyboard, window resize) or the content grew after render
  // (an image, an edit, a late font): stay pinned to the newest message
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
      prev.current.height = el.scrollHeight;
    });
    ro.observe(el);
    if (content.current) ro.observe(content.current);
    return () => ro.disconnect();
  }, []);

  function onKeyDown(e: KeyboardEvent<HTMLOListElement>) {
    const target = e.target as HTMLElement;
    if (!target.matches("li.message")) return; // keys inside an edit box or a button are theirs
    const items = Array.from(e.currentTarget.querySelectorAll<HTMLLIElement>(":scope > li.message"));
    const i = items.indexOf(target as HTMLLIElement);
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 400) / 60));
    const moves: Record<string, number> = {
      ArrowUp: i - 1,
      ArrowDown: i + 1,
      PageUp: i - page,
      PageDown: i + page,
      Home: 0,
      End: items.length - 1,
    };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const next = items[Math.max(0, Math.min(items.length - 1, moves[e.key] ?? i))];
    if (!next) return;
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

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

  // drawn once the pages back to it are in (before that the first loaded message is not it)
  const firstUnread = dividerAfter === null || !ready ? -1 : messages.findIndex((m) => m.seq !== null && m.seq > dividerAfter);
  let seenBy: string[] = [];
  if (readers && lastOwnSent >= 0) {
    const seq = messages[lastOwnSent]?.seq ?? Infinity;
    seenBy = Object.entries(readers)
      .filter(([uid, s]) => !sameId(uid, me) && s >= seq)
      .map(([uid]) => uid);
  }

  return (
    <div className="message-pane">
      <div className="scroller" ref={scroller} onScroll={onScroll} aria-label="Message history">
        <div ref={sentinel} className="sentinel">
          {hasMoreBefore ? (
            <button type="button" className="link small" onClick={onLoadOlder} disabled={loadingOlder}>
              {loadingOlder ? "Loading older messages…" : "Load older messages"}
            </button>
          ) : (
            messages.length > 0 && <span className="muted small">Beginning of the conversation</span>
          )}
        </div>
        {/* the live region wraps the list (a role on the <ol> would take its list semantics away) */}
        <div role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
          <ol
            className="messages"
            ref={content}
            onKeyDown={onKeyDown}
            onFocus={(e) => {
              const key = (e.target as HTMLElement).closest<HTMLElement>("li.message")?.dataset.key;
              if (key && key !== currentKey) setCurrent(key);
            }}
          >
            {messages.flatMap((m, i) => {
              const own = sameId(m.sender_id, me);
              const sender = users[String(m.sender_id)];
              const prevMsg = messages[i - 1];
              const day = dayKey(m.created_at);
              const grouped = continuesRun(prevMsg, m);
              const separator =
                !prevMsg || dayKey(prevMsg.created_at) !== day ? (
                  <li key={`day-${day}`} className="day-separator">
                    <span>{dayLabel(m.created_at)}</span>
                  </li>
                ) : null;
              const bubble = (
                <MessageBubble
                  key={m.key}
                  message={m}
                  own={own}
                  senderName={displayName(sender)}
                  showSender={showSenders && !grouped}
                  grouped={grouped}
                  myUsername={myUsername}
                  mentionsMe={m.mentions.some((u) => sameId(u, me))}
                  seen={i === lastOwnSeen}
                  showDelivery={i === lastOwnSent || i === lastOwnSeen}
                  canModerate={canModerate}
                  canPin={canPin}
                  replySenderName={replyName(m, me, users)}
                  actions={actions}
                  current={m.key === currentKey}
                  highlighted={focusId !== null && String(m.id) === focusId}
                  {...(readers && i === lastOwnSent ? { receipt: <SeenBy readers={seenBy} users={users} /> } : {})}
                />
              );
              const divider =
                i === firstUnread ? (
                  <li key="unread-divider" className="unread-divider" role="separator" aria-label="New messages">
                    <span>New messages</span>
                  </li>
                ) : null;
              return [separator, divider, bubble].filter((x) => x !== null);
            })}
          </ol>
        </div>
      </div>
      {away && (
        <button type="button" className="jump-latest" onClick={jumpToLatest}>
          <span aria-hidden="true">↓</span> Jump to latest
          {arrived > 0 && <span className="badge">{arrived > 99 ? "99+" : arrived} new</span>}
        </button>
      )}
    </div>
  );
}

/** Who wrote the message a reply quotes, as its quote names them. */
function replyName(m: ChatMessage, me: Id | null, users: Record<string, User>): string {
  if (!m.reply_to) return "";
  return sameId(m.reply_to.sender_id, me) ? "You" : displayName(users[String(m.reply_to.sender_id)]);
}
