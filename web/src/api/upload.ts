/**
 * Media upload as the contract describes it: ask for a slot, send the bytes where the server
 * says (a signed PUT to the embedded store, or a presigned S3 POST form), then `complete`.
 */
import { api, ApiError, NetworkError } from ".";
import type { Media } from "./types";

export async function uploadFile(file: File, signal?: AbortSignal): Promise<Media> {
  const slot = await api.media.create({
    filename: file.name || "file",
    content_type: file.type || "application/octet-stream",
    size: file.size,
  });
  const { url, method, headers, fields } = slot.upload;
  let res: Response;
  try {
    if (Object.keys(fields).length > 0) {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append("file", file);
      res = await fetch(url, { method, body: form, signal, credentials: "omit" });
    } else {
      res = await fetch(url, { method, headers, body: file, signal, credentials: "omit" });
    }
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new NetworkError("The upload did not reach the store");
  }
  if (!res.ok) throw new ApiError(res.status, "upload_failed", `Upload failed (HTTP ${res.status})`);
  return (await api.media.complete(slot.media.id)).media;
}

/** A short-lived download URL per media id, fetched once per page for a few minutes. */
const urls = new Map<string, { url: Promise<string | null>; until: number }>();

export function downloadUrl(id: Media["id"]): Promise<string | null> {
  const k = String(id);
  const hit = urls.get(k);
  if (hit && hit.until > Date.now()) return hit.url;
  const url = api.media.get(id).then(
    (r) => r.media.download_url ?? null,
    () => null,
  );
  urls.set(k, { url, until: Date.now() + 60_000 });
  return url;
}
