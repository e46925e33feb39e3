import { useEffect, useLayoutEffect, useRef, type KeyboardEvent } from "react";
import { useFlipUp } from "./flip";

export interface MenuItem {
  id: string;
  label: string;
  onSelect: () => void;
  danger?: boolean;
}

interface Props {
  items: MenuItem[];
  open: boolean;
  onOpenChange: (open: boolean) => void;
  /** where focus goes back when the menu closes without an action that moves it */
  returnFocus: () => void;
  tabIndex: number;
  label: string;
}

/**
 * A message's actions: one "⋯" button (shown on hover and focus; always on touch screens) that
 * opens a menu. The bubble also opens it with the ContextMenu key, Shift+F10, right click or a
 * long press. Inside: arrow keys, Home/End, Enter/Space; Esc or Tab closes, and focus returns.
 */
export function MessageMenu({ items, open, onOpenChange, returnFocus, tabIndex, label }: Props) {
  const menu = useRef<HTMLUListElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const up = useFlipUp(menu, open);

  // a layout effect, so focus is on the first item in the same task that shows the menu: with a
  // plain effect a key pressed right after opening could still reach the bubble
  useLayoutEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>("[role=menuitem]")?.focus();
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      const root = menu.current?.parentElement;
      if (root && !root.contains(e.target as Node)) onOpenChange(false);
    };
    document.addEventListener("pointerdown", onDown);
    return () => document.removeEventListener("pointerdown", onDown);
  }, [open, onOpenChange]);

  function close() {
    onOpenChange(false);
    returnFocus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLUListElement>) {
    const buttons = Array.from(e.currentTarget.querySelectorAll<HTMLButtonElement>("[role=menuitem]"));
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const go = (n: number) => buttons[(n + buttons.length) % buttons.length]?.focus();
    if (e.key === "ArrowDown") go(i + 1);
    else if (e.key === "ArrowUp") go(i - 1);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(buttons.length - 1);
    else if (e.key === "Escape" || e.key === "Tab") close();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }

  return (
    <div className="message-menu">
      <button
        type="button"
        ref={trigger}
        className="menu-trigger"
        tabIndex={tabIndex}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={label}
        onClick={() => onOpenChange(!open)}
      >
        ⋯
      </button>
      {open && (
        <ul role="menu" ref={menu} aria-label={label} onKeyDown={onKeyDown} className={up ? "up" : undefined}>
          {items.map((item) => (
            <li key={item.id} role="none">
              <button
                type="button"
                role="menuitem"
                tabIndex={-1}
                className={item.danger ? "danger" : undefined}
                onClick={() => {
                  onOpenChange(false);
                  item.onSelect();
                }}
              >
                {item.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
