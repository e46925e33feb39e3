import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../api";
import { sameId, type Id, type ReplyPreview } from "../api/types";
import { ChatSettingsPanel } from "../components/ChatSettingsPanel";
import { presenceText, useNow } from "../components/lastSeen";
import { Avatar, displayName, PresenceDot } from "../components/Avatar";
import { chatTitle } from "../components/chatTitle";
import { ChatSearch } from "../components/ChatSearch";
import { Composer } from "../components/Composer";
import { FormError } from "../components/Field";
import { GroupInfo } from "../components/GroupInfo";
import { ForwardDialog } from "../components/ForwardDialog";
import type { MessageActions } from "../components/MessageBubble";
import { MessageList } from "../components/MessageList";
import { PinnedBar } from "../components/PinnedBar";
import type { ChatMessage } from "../chat/messages";
import { useJump } from "../hooks/useJump";
import { TypingIndicator } from "../components/TypingIndicator";
import { realtime } from "../hooks/realtime";
import { useChatMessages } from "../hooks/useChatMessages";
import { useMembers } from "../hooks/useMembers";
import { requestEdit } from "../composer/editLast";
import { useOffline } from "../offline/snapshot";
import { useJumpToMessage } from "../search/useJumpToMessage";
import { useChats } from "../store/chats";
import { useRealtime } from "../store/realtime";
import { useSession } from "../store/session";

const NO_MARKERS: Record<string, number> = {};

export function ChatDetail({ chatId }: { chatId: string }) {
  const chat = useChats((s) => s.chats.find((c) => String(c.id) === chatId));
  const chatsLoaded = useChats((s) => s.chatsLoaded);
  const peer = useChats((s) => s.peers[chatId]);
  const users = useChats((s) => s.users);
  const markers = useChats((s) => s.readMarkers[chatId] ?? NO_MARKERS);
  const me = useSession((s) => s.user);
  const online = useRealtime((s) =>
    peer ? (s.presence[String(peer.id)] ?? (s.presenceKnown ? false : undefined)) : undefined,
  );
  const lastSeen = useRealtime((s) => (peer ? s.lastSeen[String(peer.id)] : undefined));
  const presence = useRealtime((s) => s.presence);
  const now = useNow();
  const [params] = useSearchParams();
  const focus = params.get("message");
  const { messages, hasMoreBefore, loadingOlder, error, loadOlder, send, typing, actions, divider, ready } =
    useChatMessages(chatId, focus);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const settingsButton = useRef<HTMLButtonElement>(null);
  const saved = useOffline((s) => s.showingSaved);
  const { members, reload: reloadMembers } = useMembers(chatId);
  const [infoOpen, setInfoOpen] = useState(false);
  const infoButton = useRef<HTMLButtonElement>(null);
  const canPostNow = !saved && (!chat || chat.kind !== "channel" || chat.role === "owner" || chat.role === "admin");
  const heading = useRef<HTMLHeadingElement>(null);
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [forwarding, setForwarding] = useState<ChatMessage | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const jump = useJump(chat?.id ?? null);
  const allActions = useMemo<MessageActions>(
    () => ({ ...actions, onReply: setReplyTo, onForward: setForwarding, onJump: (seq) => void jump(seq) }),
    [actions, jump],
  );
  useEffect(() => {
    setReplyTo(null);
    setForwarding(null);
    setNotice(null);
  }, [chatId]);
  // a copied message link (`/chats/ID#mSEQ`) opens the chat at that message
  const loadedCount = messages.length;
  useEffect(() => {
    const match = /^#m(\d+)$/.exec(window.location.hash);
    if (!match || loadedCount === 0) return;
    window.history.replaceState(null, "", window.location.pathname);
    void jump(Number(match[1]));
  }, [jump, loadedCount]);
  const title = chat ? chatTitle(chat, peer) : "Chat";
  const [searching, setSearching] = useState(false);
  const searchButton = useRef<HTMLButtonElement>(null);
  useJumpToMessage(chatId);

  useEffect(() => {
    document.title = `${title} · messenger`;
  }, [title]);
  // Opening a chat puts the caret in the composer, ready to type (with a mouse or keyboard; on a
  // touch screen that would pop the on-screen keyboard over the messages, so the heading takes
  // focus there, as it does when the composer is disabled).
  const section = useRef<HTMLElement>(null);
  useEffect(() => {
    const composer = section.current?.querySelector<HTMLTextAreaElement>(".composer textarea:not(:disabled)");
    const fine = typeof matchMedia === "function" && matchMedia("(pointer: fine)").matches;
    if (composer && fine) composer.focus();
    else heading.current?.focus();
  }, [chatId, canPostNow]);
  useEffect(() => {
    if (chat?.kind === "direct" && !peer) void realtime.loadPeer(chat.id);
  }, [chat?.kind, chat?.id, peer]);
  // "last seen …" for a peer who is not online (again after they go offline)
  const peerId = peer ? String(peer.id) : null;
  useEffect(() => {
    if (peerId === null || online === true) return;
    api.users.presence([peerId]).then(
      ({ presence: list }) => {
        for (const p of list) useRealtime.getState().setLastSeen(p.user_id, p.last_seen_at);
      },
      () => undefined,
    );
  }, [peerId, online]);

  // names for senders we have not seen yet (groups)
  const senders = new Set(messages.map((m) => String(m.sender_id)));
  const senderKey = [...senders].sort().join(",");
  useEffect(() => {
    for (const id of senderKey.split(",")) if (id && !users[id]) void realtime.loadUser(id);
  }, [senderKey, users]);

  let othersRead = chat?.others_read_seq ?? 0;
  for (const [uid, seq] of Object.entries(markers)) if (!sameId(uid, me?.id) && seq > othersRead) othersRead = seq;
  // each member's marker: from the member list, live `read` frames, and their own messages
  let readers: Record<string, number> | null = null;
  const group = chat !== undefined && chat.kind !== "direct";
  if (group && members.length > 0) {
    readers = {};
    for (const m of members) if (!sameId(m.user.id, me?.id)) readers[String(m.user.id)] = m.last_read_seq;
    for (const [uid, seq] of Object.entries(markers)) if (uid in readers) readers[uid] = Math.max(readers[uid] ?? 0, seq);
    for (const m of messages) {
      const uid = String(m.sender_id);
      if (m.seq !== null && uid in readers) readers[uid] = Math.max(readers[uid] ?? 0, m.seq);
    }
  }
  const onlineCount = group ? members.filter((m) => !sameId(m.user.id, me?.id) && presence[String(m.user.id)]).length : 0;

  if (chatsLoaded && !chat) {
    return (
      <section className="chat-detail">
        <h1 ref={heading} tabIndex={-1}>
          Chat not found
        </h1>
        <p>This chat does not exist or you are no longer a member.</p>
        <Link to="/chats">Back to chats</Link>
      </section>
    );
  }

  const canPost = !chat || chat.kind !== "channel" || chat.role === "owner" || chat.role === "admin";

  return (
    <section className="chat-detail" aria-labelledby="chat-title" ref={section}>
      <header className="chat-header">
        <Link to="/chats" className="back" aria-label="Back to chats">
          ←
        </Link>
        <Avatar name={title} />
        <div>
          <h1 id="chat-title" ref={heading} tabIndex={-1}>
            {title}
          </h1>
          <p className="muted small">
            {chat?.kind === "direct" ? (
              // presence is known from `ready.presence` on, and from `presence` frames
              peer && online !== undefined ? (
                <span data-testid="peer-presence">
                  <PresenceDot online={online} /> {presenceText(online, lastSeen, now)}
                </span>
              ) : (
                peer?.username && `@${peer.username}`
              )
            ) : chat ? (
              `${chat.member_count} members${onlineCount > 0 ? `, ${onlineCount} online` : ""}`
            ) : (
              ""
            )}
          </p>
        </div>
        <button
          type="button"
          ref={searchButton}
          className="secondary small search-toggle"
          aria-expanded={searching}
          onClick={() => setSearching((v) => !v)}
        >
          Search
        </button>
        {chat && chat.kind !== "direct" && (
          <button
            type="button"
            ref={infoButton}
            className="secondary small info-toggle"
            aria-expanded={infoOpen}
            onClick={() => setInfoOpen((v) => !v)}
          >
            {chat.kind === "channel" ? "Channel info" : "Group info"}
          </button>
        )}
        {chat && (
          <button
            type="button"
            ref={settingsButton}
            className="secondary small chat-settings-button"
            aria-expanded={settingsOpen}
            onClick={() => setSettingsOpen((v) => !v)}
          >
            Chat settings
          </button>
        )}
      </header>
      {searching && (
        <ChatSearch
          chatId={chat?.id ?? chatId}
          onClose={() => {
            setSearching(false);
            searchButton.current?.focus();
          }}
        />
      )}
      {infoOpen && chat && chat.kind !== "direct" && (
        <GroupInfo
          chat={chat}
          members={members}
          me={me}
          onChanged={reloadMembers}
          onClose={() => {
            setInfoOpen(false);
            infoButton.current?.focus();
          }}
        />
      )}
      {chat && settingsOpen && (
        <ChatSettingsPanel
          chat={chat}
          onClose={() => {
            setSettingsOpen(false);
            settingsButton.current?.focus();
          }}
        />
      )}
      {chat && !saved && <PinnedBar chatId={chat.id} onJump={(seq) => void jump(seq)} />}
      <FormError message={saved ? null : error} />
      {notice && (
        <p className="notice small" role="status">
          {notice}
        </p>
      )}
      <MessageList
        messages={messages}
        me={me?.id ?? null}
        users={users}
        othersRead={othersRead}
        hasMoreBefore={hasMoreBefore}
        loadingOlder={loadingOlder}
        onLoadOlder={() => void loadOlder()}
        actions={allActions}
        canModerate={chat?.role === "owner" || chat?.role === "admin"}
        canPin={chat?.kind === "direct" || chat?.role === "owner" || chat?.role === "admin"}
        showSenders={chat?.kind !== "direct"}
        myUsername={me?.username ?? null}
        dividerAfter={divider}
        focusId={focus}
        ready={ready}
        readers={readers}
      />
      <TypingIndicator chatId={chatId} />
      {forwarding && (
        <ForwardDialog
          message={forwarding}
          onClose={(sentTo) => {
            setForwarding(null);
            if (sentTo > 0) setNotice(sentTo > 1 ? `Forwarded to ${sentTo} chats` : "Forwarded");
          }}
        />
      )}
      <Composer
        chatId={chatId}
        members={members.map((m) => m.user)}
        meId={me ? String(me.id) : null}
        onEditLast={() => {
          const last = [...messages].reverse().find((m) => sameId(m.sender_id, me?.id) && m.status === "sent" && !m.deleted);
          if (!last) return false;
          requestEdit(last.key);
          return true;
        }}
        onSend={(text, attachments) => {
          send(text, attachments, replyTo ? replyPreview(replyTo) : null);
          setReplyTo(null);
        }}
        replyTo={
          replyTo
            ? {
                name: sameId(replyTo.sender_id, me?.id) ? "yourself" : displayName(users[String(replyTo.sender_id)]),
                preview: replyPreview(replyTo),
              }
            : null
        }
        onCancelReply={() => setReplyTo(null)}
        onTyping={typing}
        disabled={!canPost || saved}
        disabledReason={saved ? "Offline: saved messages are read-only" : "Only admins can post in this channel"}
      />
    </section>
  );
}

function replyPreview(m: ChatMessage): ReplyPreview {
  return {
    id: m.id as Id,
    seq: m.seq ?? 0,
    sender_id: m.sender_id,
    text: m.text,
    deleted: m.deleted,
    has_attachments: m.attachments.length > 0,
  };
}
