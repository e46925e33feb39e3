import { useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

export const MAX_TEXT = 4096;

/** Enter sends, Shift+Enter is a new line; focus stays in the box after sending. */
export function Composer({
  onSend,
  onTyping,
  disabled,
  disabledReason,
}: {
  onSend: (text: string) => void;
  onTyping: () => void;
  disabled?: boolean;
  disabledReason?: string;
}) {
  const [text, setText] = useState("");
  const box = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const length = Array.from(text).length;
  const tooLong = length > MAX_TEXT;
  const canSend = !disabled && text.trim().length > 0 && !tooLong;

  // grow with the text up to the CSS max-height (set through CSSOM, which the CSP allows)
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + 2}px`;
  }, [text]);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!canSend) return;
    onSend(text);
    setText("");
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
