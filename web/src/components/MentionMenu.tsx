import type { User } from "../api/types";
import { Avatar, displayName } from "./Avatar";

/**
 * The @-mention suggestions under the composer: a listbox the textarea drives with
 * aria-activedescendant (focus stays in the box while arrows move the highlight).
 */
export function MentionMenu({
  id,
  users,
  active,
  onChoose,
}: {
  id: string;
  users: User[];
  active: number;
  onChoose: (user: User) => void;
}) {
  return (
    <ul className="mention-menu" role="listbox" id={id} aria-label="Mention someone">
      {users.map((u, i) => (
        <li
          key={String(u.id)}
          id={`${id}-${i}`}
          role="option"
          aria-selected={i === active}
          // mousedown, not click: the textarea must not lose focus (its blur closes the menu)
          onMouseDown={(e) => {
            e.preventDefault();
            onChoose(u);
          }}
        >
          <Avatar name={displayName(u)} />
          <span>
            <strong>{displayName(u)}</strong> <span className="muted">@{u.username}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}
