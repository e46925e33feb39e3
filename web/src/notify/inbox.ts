/** The bell's REST snapshots: merged with live `notification` frames (see store/notifications). */
import { api } from "../api";
import { useNotifications } from "../store/notifications";

/** The notifications list's largest page: when all unread fit in it, the ids are the whole truth. */
const UNREAD_PAGE = 100;

/**
 * Take a snapshot of the unread notifications: on mount, on every socket `ready` (frames are not
 * replayed, so whatever was made while the socket was away is only in REST) and after reading.
 */
export async function syncUnread(): Promise<void> {
  const handle = useNotifications.getState().beginSnapshot();
  try {
    const page = await api.notifications.list({ unread: true, limit: UNREAD_PAGE });
    const unreadIds = page.notifications.map((n) => n.id);
    const complete = page.next_cursor === null;
    // more than a page unread: the count comes from the profile (the bell shows 99+ by then)
    const count = complete ? unreadIds.length : ((await api.users.me()).user.unread_notifications ?? unreadIds.length);
    useNotifications.getState().applyUnread(handle, { count, unreadIds, complete });
  } catch {
    useNotifications.getState().dropSnapshot(handle);
  }
}

/** The inbox opened: its newest items, keeping any that a frame brought in meanwhile. */
export async function loadItems(limit = 30): Promise<void> {
  const handle = useNotifications.getState().beginSnapshot();
  try {
    const page = await api.notifications.list({ limit });
    useNotifications.getState().applyItems(handle, page.notifications);
  } catch (err) {
    useNotifications.getState().dropSnapshot(handle);
    throw err;
  }
}

let timer: ReturnType<typeof setTimeout> | null = null;

/** Reading a chat also reads its notifications on the server: refresh the bell's count after. */
export function refreshUnreadSoon(delayMs = 800): void {
  if (useNotifications.getState().unread === 0 || timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    void syncUnread();
  }, delayMs);
}
