/** Page-level accessibility: the document title, and focus moved to the page heading on navigation. */
import { useEffect, useRef } from "react";

// The first page of a visit leaves focus at the document start, so Tab reaches "Skip to content"
// first; later in-app navigations move it to the new page's heading.
let firstPage = true;

export function usePage(title: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = title ? `${title} · messenger` : "messenger";
  }, [title]);
  useEffect(() => {
    // screen readers announce the new page; keyboard users start from its top
    if (!firstPage) heading.current?.focus();
    firstPage = false;
  }, []);
  return heading;
}
