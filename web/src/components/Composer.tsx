import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { describeError } from "../api";
import type { Media } from "../api/types";
import { uploadFile } from "../api/upload";

export const MAX_TEXT = 4096;

interface Pending {
  key: number;
  file: File;
  media: Media | null;
  error: string | null;
  abort: AbortController;
}

/**
 * Enter sends, Shift+Enter is a new line; focus stays in the box after sending. Files are
 * uploaded as soon as they are picked and go with the next message.
 */
export function Composer({
  onSend,
  onTyping,
  disabled,
  disabledReason,
}: {
  onSend: (text: string, attachments: Media[]) => void;
  onTyping: () => void;
  disabled?: boolean;
  disabledReason?: string;
}) {
  const [text, setText] = useState("");
  const [files, setFiles] = useState<Pending[]>([]);
  const box = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const nextKey = useRef(0);
  const id = useId();
  const length = Array.from(text).length;
  const tooLong = length > MAX_TEXT;
  const uploading = files.some((f) => f.media === null && f.error === null);
  const ready = files.filter((f) => f.media !== null).map((f) => f.media as Media);
  const canSend = !disabled && !tooLong && !uploading && (text.trim().length > 0 || ready.length > 0);

  // grow with the text up to the CSS max-height (set through CSSOM, which the CSP allows)
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + 2}px`;
  }, [text]);

  // leaving the chat cancels uploads still running
  const filesRef = useRef(files);
  filesRef.current = files;
  useEffect(() => () => filesRef.current.forEach((f) => f.abort.abort()), []);

  function pick(list: FileList | null) {
    for (const file of Array.from(list ?? [])) {
      const entry: Pending = { key: nextKey.current++, file, media: null, error: null, abort: new AbortController() };
      setFiles((fs) => [...fs, entry]);
      uploadFile(file, entry.abort.signal).then(
        (media) => setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, media } : f))),
        (err: unknown) => {
          if (entry.abort.signal.aborted) return;
          setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, error: describeError(err) } : f)));
        },
      );
    }
    if (picker.current) picker.current.value = "";
  }

  function drop(key: number) {
    setFiles((fs) => {
      fs.find((f) => f.key === key)?.abort.abort();
      return fs.filter((f) => f.key !== key);
    });
    box.current?.focus();
  }

  function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!canSend) return;
    onSend(text, ready);
    setText("");
    setFiles([]);
    box.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <form className="composer" onSubmit={submit}>
      {files.length > 0 && (
        <ul className="chips" aria-label="Attachments to send">
          {files.map((f) => (
            <li key={f.key} className={f.error ? "chip error" : "chip"}>
              <span>
                {f.file.name}
                {f.media === null && f.error === null && " · uploading…"}
                {f.error && ` · ${f.error}`}
              </span>
              <button type="button" className="link small" onClick={() => drop(f.key)}>
                Remove<span className="visually-hidden"> {f.file.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <input
        id={`${id}-file`}
        ref={picker}
        type="file"
        multiple
        className="visually-hidden"
        disabled={disabled}
        onChange={(e) => pick(e.target.files)}
      />
      <label htmlFor={`${id}-file`} className={`button secondary attach${disabled ? " disabled" : ""}`}>
        <span aria-hidden="true">📎</span>
        <span className="visually-hidden">Attach files</span>
      </label>
      <label htmlFor={id} className="visually-hidden">
        Message
      </label>
      <textarea
        id={id}
        ref={box}
        rows={1}
        value={text}
        disabled={disabled}
        placeholder={disabled ? disabledReason : "Write a message"}
        aria-describedby={tooLong ? `${id}-len` : undefined}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value) onTyping();
        }}
        onKeyDown={onKeyDown}
      />
      {tooLong && (
        <span id={`${id}-len`} className="field-error" role="alert">
          {length - MAX_TEXT} characters too long
        </span>
      )}
      <button type="submit" disabled={!canSend}>
        Send
      </button>
    </form>
  );
}
