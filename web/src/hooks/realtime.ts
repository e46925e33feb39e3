/**
 * The realtime controller (one per page): connects after login, turns server frames into store
 * updates, and sends messages, typing and read markers. Components use it through the hooks.
 */
import { api, apiClient, ApiError, NetworkError } from "../api";
import type { Chat, Id, Media, Message, ReplyPreview, ServerFrame } from "../api/types";
import { sameId } from "../api/types";
import { RealtimeSocket, wsUrl } from "../api/socket";
import { firstGap, newClientMsgId, newestSeq, optimistic, pendingMessages, type ChatMessage } from "../chat/messages";
import { notifyDesktop } from "../notify/desktop";
import { refreshUnreadSoon, syncUnread } from "../notify/inbox";
import { useChats } from "../store/chats";
import { onConversationFrame } from "./conversation";
import { useNotifications } from "../store/notifications";
import { useRealtime } from "../store/realtime";
import { useSession } from "../store/session";

const ACK_TIMEOUT_MS = 10_000;
const TYPING_THROTTLE_MS = 3_000;
const READ_DEBOUNCE_MS = 300;

function me(): Id | null {
  return useSession.getState().user?.id ?? null;
}

/**
 * The chat id exactly as the server gave it. Route params are strings, but ids are opaque and
 * must be echoed back as received (the server may type them as integers in frames).
 */
function canonical(chatId: Id): Id {
  const chat = useChats.getState().chats.find((c) => sameId(c.id, chatId));
  if (chat) return chat.id;
  const list = useChats.getState().messages[String(chatId)];
  const known = list?.find((m) => m.id !== null);
  return known ? known.chat_id : chatId;
}

/** What goes over the wire for one send (the same again on retry: same client_msg_id). */
interface Outgoing {
  text: string;
  replyToId: Id | null;
  attachmentIds: Id[];
}

function outgoing(m: ChatMessage): Outgoing {
  return { text: m.text ?? "", replyToId: m.reply_to_id, attachmentIds: m.attachments.map((a) => a.id) };
}

class Realtime {
  private socket: RealtimeSocket | null = null;
  private ackTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private lastTyping = new Map<string, number>();
  private readSent = new Map<string, number>();
  private readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private fetchingChats = new Set<string>();
  private fetchingPeers = new Set<string>();
  private fetchingUsers = new Set<string>();
  private typingSweep: ReturnType<typeof setInterval> | null = null;
  private generation = 0;

  /** Start for the current session: cursor first, then REST state, then the socket. */
  async start(): Promise<void> {
    if (this.socket !== null) return;
    const gen = ++this.generation;
    const socket = new RealtimeSocket({
      url: wsUrl(window.location),
      token: () => apiClient.accessToken(),
      refresh: () => {
        const t = useSession.getState().tokens;
        return t ? apiClient.refresh(t.access_token) : Promise.resolve(null);
      },
      onFrame: (f) => this.onFrame(f),
      onStatus: (s) => useRealtime.getState().setStatus(s),
      // a failed reload is retried by the next reconnect; the socket keeps the live state current
      onReload: () => void this.reload().catch(() => undefined),
      onResendPending: () => this.resendPending(),
      onSessionEnded: () => useSession.getState().signOut("Your session has ended. Please sign in again."),
    });
    this.socket = socket;
    this.typingSweep = setInterval(() => useRealtime.getState().expireTyping(), 1000);
    // The cursor is taken before the REST load: anything that happens during the load is
    // replayed by `resume`, and merging makes the overlap harmless. On a slow network the list
    // is also fetched alongside the cursor, to be on screen one round trip sooner; that copy may
    // predate the cursor, so the list is loaded again after it (the one the socket resumes from).
    const early = this.loadChats().catch(() => undefined);
    let cursor: string | null = null;
    try {
      cursor = (await api.sync()).cursor;
    } catch {
      cursor = null; // the socket's `ready` then supplies one and triggers a reload
    }
    await early;
    if (gen !== this.generation) return;
    await this.loadChatsUntilLoaded(gen);
    if (gen !== this.generation) return;
    socket.start(cursor);
  }

  stop(): void {
    this.generation++;
    this.socket?.stop();
    this.socket = null;
    if (this.typingSweep !== null) clearInterval(this.typingSweep);
    this.typingSweep = null;
    for (const t of this.ackTimers.values()) clearTimeout(t);
    this.ackTimers.clear();
    for (const t of this.readTimers.values()) clearTimeout(t);
    this.readTimers.clear();
    this.readSent.clear();
    useRealtime.getState().reset();
    useNotifications.getState().reset();
  }

  /** The first chat list load retries (server restarting, 5xx) instead of leaving "Loading…". */
  private async loadChatsUntilLoaded(gen: number): Promise<void> {
    for (let attempt = 0; gen === this.generation; attempt++) {
      try {
        await this.loadChats();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      }
    }
  }

  async loadChats(): Promise<void> {
    try {
      const all: Chat[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 20; page++) {
        const res = await api.chats.list(cursor, 100);
        all.push(...res.chats);
        cursor = res.next_cursor;
        if (!cursor) break;
      }
      useChats.getState().setChats(all);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // the session ended: signed out already
      throw err;
    }
  }

  /** REST catch-up for what the socket cannot replay (first connect, expired cursor). */
  async reload(): Promise<void> {
    await this.loadChats();
    const active = useChats.getState().activeChatId;
    if (active !== null) await this.loadNewest(active);
  }

  async loadNewest(chatId: Id): Promise<void> {
    const page = await api.messages.page(chatId, { limit: 50 });
    const store = useChats.getState();
    const first = !store.loaded[String(chatId)];
    store.mergePage(chatId, page.messages, { newest: true, ...(first ? { hasMoreBefore: page.has_more } : {}) });
    // a reload after a long disconnect can leave a hole between what we had and the newest page
    for (let i = 0; i < 10; i++) {
      const list = useChats.getState().messages[String(chatId)] ?? [];
      const gap = firstGap(list);
      if (gap === null) break;
      const fill = await api.messages.page(chatId, { after: gap, limit: 100 });
      useChats.getState().mergePage(chatId, fill.messages, {});
      if (fill.messages.length === 0) break;
    }
  }

  async loadOlder(chatId: Id, before: number): Promise<void> {
    const page = await api.messages.page(chatId, { before, limit: 50 });
    useChats.getState().mergePage(chatId, page.messages, { hasMoreBefore: page.has_more });
  }

  private onFrame(f: ServerFrame): void {
    if (onConversationFrame(f)) return;
    const chats = useChats.getState();
    const self = me();
    switch (f.type) {
      case "receive_message":
      case "message_edited": {
        const known = chats.receive(f.message, self);
        if (!known) void this.fetchChat(f.message.chat_id);
        if (f.type === "receive_message" && !sameId(f.message.sender_id, self)) {
          useRealtime.getState().stopTyping(f.message.chat_id, f.message.sender_id);
          void notifyDesktop(f.message, self);
          if (sameId(chats.activeChatId, f.message.chat_id) && isVisible()) this.markRead(f.message.chat_id, f.message.seq);
        }
        break;
      }
      case "message_deleted":
        chats.deleted(f.chat_id, f.message_id, f.seq);
        break;
      case "chat_updated":
        if (!chats.chatUpdated(f.chat)) void this.fetchChat(f.chat.id);
        break;
      case "member_added":
        void this.fetchChat(f.chat_id);
        break;
      case "member_removed":
        if (sameId(f.user_id, self)) chats.removeChat(f.chat_id);
        else void this.fetchChat(f.chat_id);
        break;
      case "read":
        chats.read(f.chat_id, f.user_id, f.seq, self);
        break;
      case "typing":
        if (!sameId(f.user_id, self)) {
          useRealtime.getState().typingFrom(f.chat_id, f.user_id);
          void this.loadUser(f.user_id); // the indicator names them
        }
        break;
      case "ready":
        // who was online before we connected; `presence` frames update it from here on
        if (f.presence) useRealtime.getState().presenceSnapshot(f.presence);
        // notifications made while no socket was live are never replayed: only REST has them
        void syncUnread();
        break;
      case "presence":
        useRealtime.getState().setPresence(f.user_id, f.online);
        break;
      case "notification":
        useNotifications.getState().received(f.notification);
        break;
      case "ack":
        this.clearAck(f.client_msg_id);
        chats.ack(f.message.chat_id, f.client_msg_id, f.message, self);
        break;
      case "error":
        if (f.ref) this.sendFailed(f.ref, f.code, f.message);
        break;
      default:
        break;
    }
  }

  private async fetchChat(chatId: Id): Promise<void> {
    const k = String(chatId);
    if (this.fetchingChats.has(k)) return;
    this.fetchingChats.add(k);
    try {
      const { chat } = await api.chats.get(chatId);
      useChats.getState().upsertChats([chat]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) useChats.getState().removeChat(chatId);
    } finally {
      this.fetchingChats.delete(k);
    }
  }

  /** The other member of a direct chat (for its title and presence dot). */
  async loadPeer(chatId: Id): Promise<void> {
    const k = String(chatId);
    if (this.fetchingPeers.has(k) || useChats.getState().peers[k]) return;
    this.fetchingPeers.add(k);
    try {
      const { members } = await api.chats.members(chatId, null, 3);
      const other = members.find((m) => !sameId(m.user.id, me()));
      if (other) useChats.getState().setPeer(chatId, other.user);
    } catch {
      this.fetchingPeers.delete(k); // try again on the next render
    }
  }

  async loadUser(userId: Id): Promise<void> {
    const k = String(userId);
    if (this.fetchingUsers.has(k) || useChats.getState().users[k]) return;
    this.fetchingUsers.add(k);
    try {
      const { user } = await api.users.get(userId);
      useChats.getState().cacheUsers([user]);
    } catch {
      this.fetchingUsers.delete(k);
    }
  }

  // ---- sending ------------------------------------------------------------------------------

  send(chatId: Id, text: string, attachments: Media[] = [], replyTo: ReplyPreview | null = null): void {
    const self = me();
    if (self === null) return;
    const cmid = newClientMsgId();
    const replyToId = replyTo?.id ?? null;
    const entry = optimistic(chatId, self, cmid, text, new Date(), replyToId, attachments, replyTo);
    useChats.getState().addLocal(chatId, entry);
    this.deliver(chatId, cmid, { text, replyToId, attachmentIds: attachments.map((a) => a.id) });
  }

  retry(chatId: Id, clientMsgId: string): void {
    const entry = (useChats.getState().messages[String(chatId)] ?? []).find((m) => m.client_msg_id === clientMsgId);
    if (!entry || entry.status !== "failed") return;
    useChats.getState().retrying(chatId, clientMsgId);
    this.deliver(chatId, clientMsgId, outgoing(entry));
  }

  private deliver(chatId: Id, cmid: string, out: Outgoing): void {
    chatId = canonical(chatId);
    const sent = this.socket?.send({
      type: "send_message",
      chat_id: chatId,
      client_msg_id: cmid,
      ...(out.text ? { text: out.text } : {}),
      ...(out.replyToId !== null ? { reply_to_id: out.replyToId } : {}),
      ...(out.attachmentIds.length > 0 ? { attachment_ids: out.attachmentIds } : {}),
      ref: cmid,
    });
    if (sent) {
      // no ack in time (socket silently dead): the same client_msg_id over REST cannot duplicate
      this.clearAck(cmid);
      this.ackTimers.set(
        cmid,
        setTimeout(() => {
          this.ackTimers.delete(cmid);
          void this.deliverRest(chatId, cmid, out);
        }, ACK_TIMEOUT_MS),
      );
    } else {
      void this.deliverRest(chatId, cmid, out);
    }
  }

  private async deliverRest(chatId: Id, cmid: string, out: Outgoing): Promise<void> {
    try {
      const { message } = await api.messages.send(canonical(chatId), {
        client_msg_id: cmid,
        ...(out.text ? { text: out.text } : {}),
        ...(out.replyToId !== null ? { reply_to_id: out.replyToId } : {}),
        ...(out.attachmentIds.length > 0 ? { attachment_ids: out.attachmentIds } : {}),
      });
      this.ackMessage(cmid, message);
    } catch (err) {
      if (err instanceof NetworkError && this.socket !== null) {
        // offline: it stays pending and goes again when the socket is back (resend_pending)
        this.clearAck(cmid);
        return;
      }
      const code = err instanceof ApiError ? err.code : "network_error";
      const text = err instanceof ApiError ? err.message : "Not sent: cannot reach the server";
      this.sendFailedIn(chatId, cmid, code, text);
    }
  }

  private ackMessage(cmid: string, message: Message): void {
    this.clearAck(cmid);
    useChats.getState().ack(message.chat_id, cmid, message, me());
  }

  private sendFailed(cmid: string, code: string, message: string): void {
    const messages = useChats.getState().messages;
    for (const [chatId, list] of Object.entries(messages)) {
      if (list.some((m) => m.client_msg_id === cmid && m.seq === null)) {
        this.sendFailedIn(chatId, cmid, code, message);
        return;
      }
    }
  }

  private sendFailedIn(chatId: Id, cmid: string, code: string, message: string): void {
    this.clearAck(cmid);
    useChats.getState().fail(chatId, cmid, message || code);
  }

  private clearAck(cmid: string): void {
    const t = this.ackTimers.get(cmid);
    if (t !== undefined) clearTimeout(t);
    this.ackTimers.delete(cmid);
  }

  /** After a reconnect: messages that were pending when the socket dropped go again (idempotent). */
  private resendPending(): void {
    for (const [chatId, list] of Object.entries(useChats.getState().messages)) {
      for (const m of pendingMessages(list)) {
        if (m.client_msg_id && !this.ackTimers.has(m.client_msg_id)) {
          void this.deliverRest(chatId, m.client_msg_id, outgoing(m));
        }
      }
    }
  }

  /** Edit an own message; the server's copy (and later `message_edited`) merge idempotently. */
  async edit(chatId: Id, messageId: Id, text: string): Promise<void> {
    const { message } = await api.messages.edit(chatId, messageId, text);
    useChats.getState().receive(message, me());
  }

  async remove(chatId: Id, messageId: Id, seq: number): Promise<void> {
    await api.messages.remove(chatId, messageId);
    useChats.getState().deleted(chatId, messageId, seq);
  }

  typing(chatId: Id): void {
    const k = String(chatId);
    const now = Date.now();
    if (now - (this.lastTyping.get(k) ?? 0) < TYPING_THROTTLE_MS) return;
    if (this.socket?.send({ type: "typing", chat_id: canonical(chatId) })) this.lastTyping.set(k, now);
  }

  /** Move our read marker forward to `seq` (once per seq; the server keeps it monotonic too). */
  markRead(chatId: Id, seq: number): void {
    const k = String(chatId);
    if ((this.readSent.get(k) ?? 0) >= seq) return;
    this.readSent.set(k, seq);
    const self = me();
    if (self !== null) useChats.getState().read(chatId, self, seq, self);
    // One frame per burst: a replay of hundreds of messages must not flood the socket's rate limit.
    if (this.readTimers.has(k)) return;
    this.readTimers.set(
      k,
      setTimeout(() => {
        this.readTimers.delete(k);
        const upto = this.readSent.get(k);
        if (upto === undefined) return;
        if (!this.socket?.send({ type: "read", chat_id: canonical(chatId), seq: upto })) {
          api.chats.markRead(canonical(chatId), upto).catch(() => this.readSent.delete(k));
        }
        refreshUnreadSoon();
      }, READ_DEBOUNCE_MS),
    );
  }

  /** Mark the open chat read up to its newest loaded message (on open, focus, visibility). */
  markActiveRead(): void {
    const s = useChats.getState();
    if (s.activeChatId === null || !isVisible()) return;
    const seq = newestSeq(s.messages[String(s.activeChatId)] ?? []);
    if (seq !== null) this.markRead(s.activeChatId, seq);
  }
}

function isVisible(): boolean {
  return typeof document === "undefined" || document.visibilityState === "visible";
}

export const realtime = new Realtime();
