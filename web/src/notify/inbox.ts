/** Reading a chat also reads its notifications on the server: refresh the bell's count after. */
import { api } from "../api";
import { useNotifications } from "../store/notifications";

let timer: ReturnType<typeof setTimeout> | null = null;

export function refreshUnreadSoon(delayMs = 800): void {
  if (useNotifications.getState().unread === 0 || timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    api.users.me().then(
      ({ user }) => {
        const n = user.unread_notifications ?? 0;
        const s = useNotifications.getState();
        s.setUnread(n);
        // the list is refetched when the inbox opens; drop stale unread marks once all are read
        if (n === 0) s.markAllRead();
      },
      () => undefined,
    );
  }, delayMs);
}
