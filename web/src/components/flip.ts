import { useLayoutEffect, useState, type RefObject } from "react";

/**
 * A popover under a message opens upward when the message list (its scroll container) has no
 * room below it, so the last messages' menus are not cut off.
 */
export function useFlipUp(ref: RefObject<HTMLElement | null>, open: boolean): boolean {
  const [up, setUp] = useState(false);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!open || !el) {
      setUp(false);
      return;
    }
    const box = el.closest(".scroller")?.getBoundingClientRect();
    const rect = el.getBoundingClientRect();
    const bottom = box ? box.bottom : window.innerHeight;
    if (rect.bottom > bottom) setUp(true);
  }, [ref, open]);
  return up;
}
