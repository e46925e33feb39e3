import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ChatList } from "../components/ChatList";
import { DesktopPrompt } from "../components/DesktopPrompt";
import { NotificationsInbox, openPath } from "../components/NotificationsInbox";
import { useNotifications } from "../store/notifications";
import { NewChat } from "../components/NewChat";
import { SidebarSearch } from "../components/SearchBox";
import { usePage } from "../hooks/usePage";
import { totalUnread } from "../chat/chats";
import { useChats } from "../store/chats";
import { useSession } from "../store/session";
import { Avatar, displayName } from "../components/Avatar";

// The open chat (message list, composer, formatting) loads after the list is on screen.
const ChatDetail = lazy(() => import("./ChatDetail").then((m) => ({ default: m.ChatDetail })));

/** Chat list beside the open chat; on a phone-width screen one of the two at a time. */
export function ChatsPage() {
  const { chatId } = useParams();
  const unread = useChats((s) => totalUnread(s.chats));
  const heading = usePage(unread > 0 ? `(${unread}) Chats` : "Chats");
  const [creating, setCreating] = useState(false);
  const me = useSession((s) => s.user);
  const newChatButton = useRef<HTMLButtonElement>(null);
  const openRequest = useNotifications((s) => s.open);
  const navigate = useNavigate();
  // a desktop notification was clicked: open its message
  useEffect(() => {
    if (openRequest === null) return;
    useNotifications.getState().requestOpen(null);
    navigate(openPath(openRequest.chatId, openRequest.messageId));
  }, [openRequest, navigate]);
  const closeNewChat = () => {
    setCreating(false);
    newChatButton.current?.focus(); // back where the keyboard user was (an opened chat takes it next)
  };

  return (
    <div className={`chats-layout ${chatId ? "has-detail" : ""}`}>
      <nav className="sidebar" aria-labelledby="chats-heading">
        <header className="sidebar-header">
          <h1 id="chats-heading" ref={chatId ? undefined : heading} tabIndex={-1}>
            Chats
          </h1>
          <button type="button" ref={newChatButton} onClick={() => setCreating((v) => !v)} aria-expanded={creating}>
            New chat
          </button>
          <NotificationsInbox />
          <Link to="/profile" className="button secondary">
            Profile
          </Link>
        </header>
        {me && (
          <p className="whoami">
            <Avatar name={displayName(me)} src={me.avatar_url} />
            <span>
              Signed in as <strong>{displayName(me)}</strong> <span className="muted">@{me.username}</span>
            </span>
          </p>
        )}
        <DesktopPrompt />
        {creating && <NewChat onDone={closeNewChat} />}
        <SidebarSearch>
          <ChatList />
        </SidebarSearch>
      </nav>
      <main className="detail" id="main">
        {chatId ? (
          <Suspense fallback={<p className="muted pad">Loading…</p>}>
            <ChatDetail key={chatId} chatId={chatId} />
          </Suspense>
        ) : (
          <div className="empty-detail">
            <p className="muted">Choose a chat, or start a new one.</p>
          </div>
        )}
      </main>
    </div>
  );
}
