import { useEffect, useRef, useState } from "react";
import { describeError } from "../api";
import { uploadFile } from "../api/upload";

const SIZE = 512; // pixels of the saved square

/**
 * Pick a picture, choose which square of it to keep, save it as the avatar. Decoded with
 * createImageBitmap and drawn on a canvas (no blob: URL, which the CSP's img-src would refuse).
 */
export function AvatarCrop({ onSaved }: { onSaved: (mediaId: string | number) => Promise<void> }) {
  const [bitmap, setBitmap] = useState<ImageBitmap | null>(null);
  const [offset, setOffset] = useState(50); // % along the longer side
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext("2d");
    if (!c || !ctx || !bitmap) return;
    const side = Math.min(bitmap.width, bitmap.height);
    const sx = ((bitmap.width - side) * offset) / 100;
    const sy = ((bitmap.height - side) * offset) / 100;
    ctx.clearRect(0, 0, SIZE, SIZE);
    ctx.drawImage(bitmap, sx, sy, side, side, 0, 0, SIZE, SIZE);
  }, [bitmap, offset]);

  async function pick(file: File | undefined) {
    setError(null);
    if (!file) return;
    try {
      setBitmap(await createImageBitmap(file));
      setOffset(50);
    } catch {
      setError("That file is not a picture this browser can read.");
    }
  }

  async function save() {
    const c = canvas.current;
    if (!c) return;
    setBusy(true);
    setError(null);
    try {
      const blob = await new Promise<Blob | null>((ok) => c.toBlob(ok, "image/png"));
      if (!blob) throw new Error("Could not prepare the picture");
      const media = await uploadFile(new File([blob], "avatar.png", { type: "image/png" }));
      await onSaved(media.id);
      setBitmap(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  const landscape = bitmap ? bitmap.width >= bitmap.height : true;
  return (
    <div className="avatar-crop">
      <label htmlFor="avatar-file">Profile picture</label>
      <input id="avatar-file" type="file" accept="image/png,image/jpeg,image/webp,image/gif" onChange={(e) => void pick(e.target.files?.[0])} />
      {bitmap && (
        <>
          <canvas ref={canvas} width={SIZE} height={SIZE} className="crop-preview" role="img" aria-label="The square that will be kept" />
          {bitmap.width !== bitmap.height && (
            <>
              <label htmlFor="avatar-offset">{landscape ? "Left to right" : "Top to bottom"}</label>
              <input id="avatar-offset" type="range" min={0} max={100} value={offset} onChange={(e) => setOffset(Number(e.target.value))} />
            </>
          )}
          <div className="row">
            <button type="button" onClick={() => void save()} disabled={busy}>
              {busy ? "Saving…" : "Save picture"}
            </button>
            <button type="button" className="secondary" onClick={() => setBitmap(null)} disabled={busy}>
              Cancel
            </button>
          </div>
        </>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
