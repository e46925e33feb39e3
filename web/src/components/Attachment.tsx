import { useEffect, useState } from "react";
import type { Media } from "../api/types";
import { downloadUrl } from "../api/upload";

function sizeLabel(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** http(s) only; the server's CSP admits its own origin and its configured media store. */
function loadable(url: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(url, window.location.href).protocol);
  } catch {
    return false;
  }
}

/** An image is shown inline; any other file is a download link. URLs are short-lived, fetched on demand. */
export function Attachment({ media }: { media: Media }) {
  const image = media.content_type.startsWith("image/") && media.status === "ready";
  const [url, setUrl] = useState<string | null>(null);

  useEffect(() => {
    if (!image) return;
    let live = true;
    void downloadUrl(media.id).then((u) => {
      if (live && u && loadable(u)) setUrl(u);
    });
    return () => {
      live = false;
    };
  }, [image, media.id]);

  async function open() {
    // open the tab within the click (popup blockers), then point it at the fresh short-lived URL
    const tab = window.open("", "_blank");
    if (tab) tab.opener = null;
    const u = await downloadUrl(media.id);
    if (tab && u && loadable(u)) tab.location.href = u;
    else tab?.close();
  }

  return (
    <li className="attachment">
      {image && url ? (
        <img
          src={url}
          alt={media.filename}
          loading="lazy"
          width={media.width ?? undefined}
          height={media.height ?? undefined}
          onError={() => setUrl(null)}
        />
      ) : null}
      <button type="button" className="link small" onClick={() => void open()}>
        📎 {media.filename} <span className="muted">({sizeLabel(media.size)})</span>
      </button>
    </li>
  );
}
