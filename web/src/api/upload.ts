/**
 * Media upload as the contract describes it: ask for a slot, send the bytes where the server
 * says (a signed PUT to the embedded store, or a presigned S3 POST form), then `complete`.
 */
import { api, ApiError, NetworkError } from ".";
import type { Media } from "./types";

/**
 * Sends the bytes with XMLHttpRequest, the one browser API that reports upload progress
 * (fetch does not). Resolves with the HTTP status; rejects AbortError or a network failure.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: XMLHttpRequestBodyInit,
  signal: AbortSignal | undefined,
  onProgress: (fraction: number) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => resolve(xhr.status);
    xhr.onerror = () => reject(new NetworkError("The upload did not reach the store"));
    xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
    if (signal?.aborted) return reject(new DOMException("Upload cancelled", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

export async function uploadFile(
  file: File,
  signal?: AbortSignal,
  onProgress?: (fraction: number) => void,
): Promise<Media> {
  const slot = await api.media.create({
    filename: file.name || "file",
    content_type: file.type || "application/octet-stream",
    size: file.size,
  });
  const { url, method, headers, fields } = slot.upload;
  if (onProgress) {
    let body: XMLHttpRequestBodyInit = file;
    if (Object.keys(fields).length > 0) {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append("file", file);
      body = form;
    }
    const status = await send(url, method, Object.keys(fields).length > 0 ? {} : headers, body, signal, onProgress);
    if (status < 200 || status >= 300) throw new ApiError(status, "upload_failed", `Upload failed (HTTP ${status})`);
    return (await api.media.complete(slot.media.id)).media;
  }
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
