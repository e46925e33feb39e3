import { Fragment, memo, type ReactNode } from "react";
import { parseBlocks, type Inline } from "../format/markdown";

function inline(nodes: Inline[], me: string | null): ReactNode[] {
  return nodes.map((n, i) => {
    switch (n.t) {
      case "text":
        return <Fragment key={i}>{n.v}</Fragment>;
      case "code":
        return <code key={i}>{n.v}</code>;
      case "strong":
        return <strong key={i}>{inline(n.c, me)}</strong>;
      case "em":
        return <em key={i}>{inline(n.c, me)}</em>;
      case "link":
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer">
            {n.v}
          </a>
        );
      case "mention":
        return (
          <span key={i} className={me !== null && n.v.toLowerCase() === me.toLowerCase() ? "mention me" : "mention"}>
            @{n.v}
          </span>
        );
    }
  });
}

/** A message's text with the safe formatting subset (src/format/markdown.ts), as elements. */
export const RichText = memo(function RichText({ text, me = null }: { text: string; me?: string | null }) {
  return (
    <div className="text">
      {parseBlocks(text).map((b, i) =>
        b.t === "pre" ? (
          <pre key={i}>
            <code>{b.v}</code>
          </pre>
        ) : b.t === "quote" ? (
          <blockquote key={i}>{inline(b.c, me)}</blockquote>
        ) : (
          <p key={i}>{inline(b.c, me)}</p>
        ),
      )}
    </div>
  );
});
