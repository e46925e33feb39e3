import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, describeError } from "../api";
import type { User } from "../api/types";
import { sameId } from "../api/types";
import { useChats } from "../store/chats";
import { useSession } from "../store/session";
import { displayName } from "./Avatar";
import { FormError } from "./Field";

/** Find people by name prefix, then open a direct chat or create a group with them. */
export function NewChat({ onDone }: { onDone: () => void }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<User[]>([]);
  const [picked, setPicked] = useState<User[]>([]);
  const [title, setTitle] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const me = useSession((s) => s.user);
  const navigate = useNavigate();
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(() => input.current?.focus(), []);

  useEffect(() => {
    const term = q.trim();
    if (term.length === 0) {
      setResults([]);
      return;
    }
    const ctl = new AbortController();
    const t = setTimeout(() => {
      api.users.search(term, 10).then(
        (r) => {
          if (!ctl.signal.aborted) setResults(r.users.filter((u) => !sameId(u.id, me?.id)));
        },
        (err: unknown) => {
          if (!ctl.signal.aborted) setError(describeError(err));
        },
      );
    }, 200);
    return () => {
      ctl.abort();
      clearTimeout(t);
    };
  }, [q, me?.id]);

  async function create(kind: "direct" | "group", members: User[]) {
    setBusy(true);
    setError(null);
    try {
      const { chat } = await api.chats.create({
        kind,
        member_ids: members.map((u) => u.id),
        ...(kind === "group" ? { title: title.trim() || members.map((u) => displayName(u)).join(", ") } : {}),
      });
      useChats.getState().upsertChats([chat]);
      if (kind === "direct" && members[0]) useChats.getState().setPeer(chat.id, members[0]);
      onDone();
      navigate(`/chats/${encodeURIComponent(String(chat.id))}`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  function submitGroup(e: FormEvent) {
    e.preventDefault();
    if (picked.length > 0) void create("group", picked);
  }

  return (
    <section className="new-chat" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>New chat</h2>
      <div className="field">
        <label htmlFor={`${id}-q`}>Find people</label>
        <input
          id={`${id}-q`}
          ref={input}
          type="search"
          value={q}
          autoComplete="off"
          placeholder="Name or username"
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") onDone();
          }}
        />
      </div>
      <FormError message={error} />
      {results.length > 0 && (
        <ul className="people" aria-label="People found">
          {results.map((u) => {
            const isPicked = picked.some((p) => sameId(p.id, u.id));
            return (
              <li key={String(u.id)}>
                <span className="person">
                  <strong>{displayName(u)}</strong> <span className="muted">@{u.username}</span>
                </span>
                <button type="button" disabled={busy} onClick={() => void create("direct", [u])}>
                  Message {u.username}
                </button>
                <button
                  type="button"
                  className="secondary"
                  aria-pressed={isPicked}
                  onClick={() => setPicked(isPicked ? picked.filter((p) => !sameId(p.id, u.id)) : [...picked, u])}
                >
                  {isPicked ? "Remove from group" : "Add to group"}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {picked.length > 0 && (
        <form onSubmit={submitGroup} className="group-form">
          <p>
            Group with: {picked.map((u) => displayName(u)).join(", ")}
          </p>
          <div className="field">
            <label htmlFor={`${id}-t`}>Group name</label>
            <input id={`${id}-t`} value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
          </div>
          <button type="submit" disabled={busy}>
            Create group
          </button>
        </form>
      )}
      <button type="button" className="link" onClick={onDone}>
        Cancel
      </button>
    </section>
  );
}
