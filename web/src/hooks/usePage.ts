/** Page-level accessibility: the document title, and focus moved to the page heading on navigation. */
import { useEffect, useRef } from "react";

export function usePage(title: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = title ? `${title} · messenger` : "messenger";
  }, [title]);
  useEffect(() => {
    // screen readers announce the new page; keyboard users start from its top
    heading.current?.focus();
  }, []);
  return heading;
}
