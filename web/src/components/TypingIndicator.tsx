import { useChats } from "../store/chats";
import { useRealtime } from "../store/realtime";
import { displayName } from "./Avatar";

const NOBODY: Record<string, number> = {};

export function TypingIndicator({ chatId }: { chatId: string }) {
  const typing = useRealtime((s) => s.typing[chatId] ?? NOBODY);
  const users = useChats((s) => s.users);
  const names = Object.keys(typing).map((id) => displayName(users[id]));
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  return (
    <div className="typing" aria-live="polite">
      {text}
    </div>
  );
}
