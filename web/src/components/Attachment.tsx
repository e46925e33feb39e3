import { useEffect, useState } from "react";
import type { Media } from "../api/types";
import { downloadUrl } from "../api/upload";
import { PaperclipIcon } from "./icons";

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

/** Widest an inline image is drawn, in CSS pixels (the CSS caps it to the bubble too). */
const MAX_IMAGE_WIDTH = 288;

/**
 * The box an image takes before its URL or bytes arrive, from the size the server measured, so
 * the message list does not grow (and jump) when the picture loads. Set through CSSOM, which the
 * CSP allows (a style attribute would not be).
 */
export function imageBox(width: number | null | undefined, height: number | null | undefined) {
  if (!width || !height || width <= 0 || height <= 0) return undefined;
  return { width: `${Math.min(width, MAX_IMAGE_WIDTH)}px`, aspectRatio: `${width} / ${height}` };
}

/** An image is shown inline; any other file is a download link. URLs are short-lived, fetched on demand. */
export function Attachment({ media, tabIndex }: { media: Media; tabIndex?: number }) {
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
      {image && (url || imageBox(media.width, media.height)) ? (
        <span className="image-frame" style={imageBox(media.width, media.height)}>
          {url && (
            <img
              src={url}
              alt={media.filename}
              loading="lazy"
              width={media.width ?? undefined}
              height={media.height ?? undefined}
              onError={() => setUrl(null)}
            />
          )}
        </span>
      ) : null}
      <button type="button" className="link small" tabIndex={tabIndex} onClick={() => void open()}>
        <PaperclipIcon /> {media.filename} <span className="muted">({sizeLabel(media.size)})</span>
      </button>
    </li>
  );
}
