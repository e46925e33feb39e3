import {
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { describeError } from "../api";
import type { Media, ReplyPreview, User } from "../api/types";
import { quoteLine } from "../chat/conversation";
import { uploadFile } from "../api/upload";
import { loadDraft, saveDraft } from "../composer/drafts";
import { useFileDrop } from "../composer/useFileDrop";
import { applyMention, matchMembers, mentionAt, type MentionQuery } from "../composer/mentions";
import { MentionMenu } from "./MentionMenu";
import { PaperclipIcon } from "./icons";

export const MAX_TEXT = 4096;

interface Pending {
  key: number;
  file: File;
  media: Media | null;
  error: string | null;
  abort: AbortController;
  /** 0..1 while the bytes go up */
  progress: number;
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
  chatId,
  members = [],
  meId = null,
  onEditLast,
  replyTo = null,
  onCancelReply,
}: {
  onSend: (text: string, attachments: Media[]) => void;
  onTyping: () => void;
  disabled?: boolean;
  disabledReason?: string;
  /** the draft is kept per chat (composer/drafts.ts) */
  chatId?: string;
  /** who can be @-mentioned */
  members?: User[];
  meId?: string | null;
  /** Arrow Up in an empty box: edit the last own message; false if there is none */
  onEditLast?: () => boolean;
  /** the message being answered: its quote shows above the box; Esc cancels */
  replyTo?: { name: string; preview: ReplyPreview } | null;
  onCancelReply?: () => void;
}) {
  const [text, setText] = useState(() => (chatId ? loadDraft(chatId) : ""));
  const [mention, setMention] = useState<MentionQuery | null>(null);
  const [mentionIndex, setMentionIndex] = useState(0);
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

  // the draft follows every change (a reload or another chat keeps it)
  useEffect(() => {
    if (chatId) saveDraft(chatId, text);
  }, [chatId, text]);

  const suggestions = mention ? matchMembers(members, mention.query, meId) : [];
  const menuOpen = suggestions.length > 0;

  function choose(user: User) {
    if (!mention || user.username === null) return;
    const next = applyMention(text, mention, user.username);
    setText(next.text);
    setMention(null);
    requestAnimationFrame(() => box.current?.setSelectionRange(next.caret, next.caret));
    box.current?.focus();
  }

  const dragging = useFileDrop(box, (files) => pick(files), Boolean(disabled));

  function onPaste(e: ClipboardEvent<HTMLTextAreaElement>) {
    const files = Array.from(e.clipboardData.files);
    if (files.length === 0) return; // text pastes as usual
    e.preventDefault();
    pick(files);
  }

  // leaving the chat cancels uploads still running
  const filesRef = useRef(files);
  filesRef.current = files;
  useEffect(() => () => filesRef.current.forEach((f) => f.abort.abort()), []);

  function pick(list: FileList | File[] | null) {
    for (const file of Array.from(list ?? [])) {
      const entry: Pending = { key: nextKey.current++, file, media: null, error: null, abort: new AbortController(), progress: 0 };
      setFiles((fs) => [...fs, entry]);
      const onProgress = (progress: number) =>
        setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, progress } : f)));
      uploadFile(file, entry.abort.signal, onProgress).then(
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
    setMention(null);
    setFiles([]);
    box.current?.focus();
  }

  // choosing "Reply" puts the cursor in the box, in the same task that shows the quote (a layout
  // effect): the menu that chose it has just unmounted and left the focus on <body>
  const replyingTo = replyTo?.preview.id;
  useLayoutEffect(() => {
    if (replyingTo !== undefined) box.current?.focus();
  }, [replyingTo]);

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Escape" && replyTo && !menuOpen) {
      e.preventDefault();
      onCancelReply?.();
      return;
    }
    if (menuOpen) {
      const n = suggestions.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setMentionIndex((i) => (i + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) {
        e.preventDefault();
        const user = suggestions[Math.min(mentionIndex, n - 1)];
        if (user) choose(user);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setMention(null);
        return;
      }
    }
    if (e.key === "ArrowUp" && text === "" && onEditLast && onEditLast()) {
      e.preventDefault();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <form className={replyTo ? "composer replying" : "composer"} onSubmit={submit}>
      {replyTo && (
        <div className="composer-reply" role="group" aria-label={`Replying to ${replyTo.name}`}>
          <span className="reply-quote static">
            <strong>Replying to {replyTo.name}</strong>
            <span>{quoteLine(replyTo.preview)}</span>
          </span>
          <button
            type="button"
            className="link small"
            onClick={() => {
              onCancelReply?.();
              box.current?.focus();
            }}
          >
            Cancel<span className="visually-hidden"> reply</span>
          </button>
        </div>
      )}
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop files to attach
        </div>
      )}
      {menuOpen && (
        <MentionMenu
          id={`${id}-mentions`}
          users={suggestions}
          active={Math.min(mentionIndex, suggestions.length - 1)}
          onChoose={choose}
        />
      )}
      {files.length > 0 && (
        <ul className="chips" aria-label="Attachments to send">
          {files.map((f) => {
            const busy = f.media === null && f.error === null;
            return (
              <li key={f.key} className={f.error ? "chip error" : "chip"}>
                <span>
                  {f.file.name}
                  {busy && " · uploading…"}
                  {f.error && ` · ${f.error}`}
                </span>
                {busy && (
                  <progress max={1} value={f.progress} aria-label={`Uploading ${f.file.name}`}>
                    {Math.round(f.progress * 100)}%
                  </progress>
                )}
                <button type="button" className="link small" onClick={() => drop(f.key)}>
                  {busy ? "Cancel" : "Remove"}
                  <span className="visually-hidden"> {f.file.name}</span>
                </button>
              </li>
            );
          })}
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
        <PaperclipIcon />
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
        aria-autocomplete="list"
        aria-controls={menuOpen ? `${id}-mentions` : undefined}
        aria-activedescendant={menuOpen ? `${id}-mentions-${Math.min(mentionIndex, suggestions.length - 1)}` : undefined}
        onChange={(e) => {
          setText(e.target.value);
          setMention(mentionAt(e.target.value, e.target.selectionStart ?? e.target.value.length));
          setMentionIndex(0);
          if (e.target.value) onTyping();
        }}
        onBlur={() => setMention(null)}
        onPaste={onPaste}
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
