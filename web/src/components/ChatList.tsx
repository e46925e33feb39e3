import { useEffect, type KeyboardEvent } from "react";
import { NavLink } from "react-router";
import type { Chat } from "../api/types";
import { sameId } from "../api/types";
import { realtime } from "../hooks/realtime";
import { plainText } from "../format/markdown";
import { useChats } from "../store/chats";
import { useRealtime } from "../store/realtime";
import { useSession } from "../store/session";
import { Avatar, displayName } from "./Avatar";
import { chatTitle, timeLabel } from "./chatTitle";

function preview(chat: Chat): string {
  const m = chat.last_message;
  if (!m) return "No messages yet";
  if (m.deleted) return "Message deleted";
  if (m.text) return plainText(m.text).replace(/\s+/g, " ");
  return m.attachments.length > 0 ? "Attachment" : "";
}

/** Who wrote a group's last message ("You", or their name), as Telegram and Slack show it. */
function useLastSender(chat: Chat): string | null {
  const senderId = chat.kind !== "direct" && chat.last_message && !chat.last_message.deleted ? chat.last_message.sender_id : null;
  const mine = useSession((s) => senderId !== null && sameId(s.user?.id, senderId));
  const sender = useChats((s) => (senderId === null ? undefined : s.users[String(senderId)]));
  useEffect(() => {
    if (senderId !== null && !mine && !sender) void realtime.loadUser(senderId);
  }, [senderId, mine, sender]);
  if (senderId === null) return null;
  return mine ? "You" : sender ? displayName(sender) : null;
}

function ChatListItem({ chat }: { chat: Chat }) {
  const peer = useChats((s) => s.peers[String(chat.id)]);
  const online = useRealtime((s) =>
    peer ? (s.presence[String(peer.id)] ?? (s.presenceKnown ? false : undefined)) : undefined,
  );
  const active = useChats((s) => sameId(s.activeChatId, chat.id));
  useEffect(() => {
    if (chat.kind === "direct" && !peer) void realtime.loadPeer(chat.id);
  }, [chat.kind, chat.id, peer]);
  const title = chatTitle(chat, peer);
  const lastSender = useLastSender(chat);
  const unread = chat.unread_count;
  return (
    <li>
      <NavLink
        to={`/chats/${encodeURIComponent(String(chat.id))}`}
        className={`chat-item${unread > 0 ? " has-unread" : ""}`}
        aria-current={active ? "page" : undefined}
      >
        <Avatar name={title} online={chat.kind === "direct" ? online : undefined} />
        <span className="chat-item-body">
          <span className="chat-item-top">
            <span className="chat-item-title">
              {title}
              {/* the link's name is its visible text plus these (axe: label-content-name-mismatch) */}
              {online && <span className="visually-hidden">, online</span>}
            </span>
            <time className="chat-item-time" dateTime={chat.last_message?.created_at ?? chat.created_at}>
              {timeLabel(chat.last_message?.created_at ?? chat.created_at)}
            </time>
          </span>
          <span className="chat-item-bottom">
            <span className="chat-item-preview">
              {lastSender && <span className="chat-item-sender">{lastSender}: </span>}
              {preview(chat)}
            </span>
            {unread > 0 && (
              <span className="badge" aria-hidden="true" data-testid="unread-badge">
                {unread > 99 ? "99+" : unread}
              </span>
            )}
            {unread > 0 && <span className="visually-hidden">, {unread} unread</span>}
          </span>
        </span>
      </NavLink>
    </li>
  );
}

export function ChatList() {
  const chats = useChats((s) => s.chats);
  const loaded = useChats((s) => s.chatsLoaded);
  if (!loaded) return <p className="muted pad">Loading chats…</p>;
  if (chats.length === 0) return <p className="muted pad">No chats yet. Start one with “New chat”.</p>;
  // Arrow keys, Home and End move between chats (Tab still walks every control)
  function onKeyDown(e: KeyboardEvent<HTMLUListElement>) {
    const links = Array.from(e.currentTarget.querySelectorAll<HTMLAnchorElement>("a.chat-item"));
    const i = links.indexOf(document.activeElement as HTMLAnchorElement);
    let next = -1;
    if (e.key === "ArrowDown") next = Math.min(links.length - 1, i + 1);
    else if (e.key === "ArrowUp") next = Math.max(0, i - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = links.length - 1;
    const target = next >= 0 ? links[next] : undefined;
    if (target) {
      e.preventDefault();
      target.focus();
    }
  }

  return (
    <ul className="chat-list" aria-label="Chats" onKeyDown={onKeyDown}>
      {chats.map((c) => (
        <ChatListItem key={String(c.id)} chat={c} />
      ))}
    </ul>
  );
}
