import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, describeError } from "../api";
import type { Chat, Member, Role, User } from "../api/types";
import { sameId } from "../api/types";
import { useChats } from "../store/chats";
import { Avatar, displayName } from "./Avatar";
import { FormError } from "./Field";

const ROLE_LABEL: Record<Role, string> = { owner: "Owner", admin: "Admin", member: "Member" };

/**
 * A group's (or channel's) info panel: its name (renamed by owners and admins), the members
 * with their roles (the owner sets roles; owners and admins add and remove people), and Leave.
 */
export function GroupInfo({
  chat,
  members,
  me,
  onChanged,
  onClose,
}: {
  chat: Chat;
  members: Member[];
  me: User | null;
  onChanged: () => void;
  onClose: () => void;
}) {
  const navigate = useNavigate();
  const heading = useRef<HTMLHeadingElement>(null);
  const [title, setTitle] = useState(chat.title ?? "");
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<User[]>([]);
  const manage = chat.role === "owner" || chat.role === "admin";

  useEffect(() => {
    heading.current?.focus();
  }, []);

  useEffect(() => {
    const q = query.trim();
    if (!manage || q.length < 2) {
      setFound([]);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      api.users.search(q, 8).then(
        (r) => live && setFound(r.users),
        () => live && setFound([]),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query, manage]);

  async function run(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  }

  async function rename(e: FormEvent) {
    e.preventDefault();
    const t = title.trim();
    if (!t) return;
    await run(async () => {
      const { chat: updated } = await api.chats.update(chat.id, { title: t });
      useChats.getState().upsertChats([updated]);
    });
  }

  async function leave() {
    if (!me || !window.confirm(`Leave ${chat.title ?? "this group"}?`)) return;
    try {
      await api.chats.removeMember(chat.id, me.id);
      useChats.getState().removeChat(chat.id);
      navigate("/chats", { replace: true });
    } catch (err) {
      setError(describeError(err));
    }
  }

  const memberIds = new Set(members.map((m) => String(m.user.id)));

  return (
    <aside className="group-info" aria-labelledby="group-info-h" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <header>
        <h2 id="group-info-h" ref={heading} tabIndex={-1}>
          {chat.kind === "channel" ? "Channel info" : "Group info"}
        </h2>
        <button type="button" className="secondary small" onClick={onClose}>
          Close<span className="visually-hidden"> {chat.kind === "channel" ? "channel" : "group"} info</span>
        </button>
      </header>
      <FormError message={error} />
      {manage ? (
        <form className="rename" onSubmit={(e) => void rename(e)}>
          <label htmlFor="group-title">Group name</label>
          <div className="row">
            <input id="group-title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
            <button type="submit" className="small" disabled={!title.trim() || title.trim() === chat.title}>
              Rename
            </button>
          </div>
        </form>
      ) : null}
      <h3>{members.length} members</h3>
      <ul className="members" aria-label="Members">
        {members.map((m) => {
          const self = sameId(m.user.id, me?.id);
          const name = displayName(m.user);
          return (
            <li key={String(m.user.id)}>
              <Avatar name={name} />
              <span className="member-name">
                {name}
                {self && " (you)"}
                <span className="muted small"> @{m.user.username}</span>
              </span>
              {chat.role === "owner" && !self && m.role !== "owner" ? (
                <select
                  aria-label={`Role of ${name}`}
                  value={m.role}
                  onChange={(e) => void run(() => api.chats.setRole(chat.id, m.user.id, e.target.value as Role))}
                >
                  <option value="member">Member</option>
                  <option value="admin">Admin</option>
                </select>
              ) : (
                <span className="role">{ROLE_LABEL[m.role]}</span>
              )}
              {manage && !self && m.role !== "owner" && (chat.role === "owner" || m.role === "member") && (
                <button
                  type="button"
                  className="link small"
                  onClick={() => {
                    if (window.confirm(`Remove ${name} from the group?`)) void run(() => api.chats.removeMember(chat.id, m.user.id));
                  }}
                >
                  Remove<span className="visually-hidden"> {name}</span>
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {manage && (
        <div className="add-members">
          <label htmlFor="group-add">Add people</label>
          <input id="group-add" type="search" placeholder="Name or username" value={query} onChange={(e) => setQuery(e.target.value)} />
          {found.length > 0 && (
            <ul className="members" aria-label="People found">
              {found
                .filter((u) => !memberIds.has(String(u.id)))
                .map((u) => (
                  <li key={String(u.id)}>
                    <Avatar name={displayName(u)} />
                    <span className="member-name">
                      {displayName(u)} <span className="muted small">@{u.username}</span>
                    </span>
                    <button type="button" className="small" onClick={() => void run(() => api.chats.addMember(chat.id, u.id))}>
                      Add<span className="visually-hidden"> {displayName(u)}</span>
                    </button>
                  </li>
                ))}
            </ul>
          )}
        </div>
      )}
      <button type="button" className="danger leave" onClick={() => void leave()}>
        Leave {chat.kind === "channel" ? "channel" : "group"}
      </button>
    </aside>
  );
}
