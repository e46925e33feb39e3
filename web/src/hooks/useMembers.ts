/** A chat's members (for @-mentions and the group info panel), fetched when the chat opens. */
import { useCallback, useEffect, useState } from "react";
import { api } from "../api";
import type { Member } from "../api/types";
import { useChats } from "../store/chats";

const MAX_PAGES = 20;

export function useMembers(chatId: string) {
  const [members, setMembers] = useState<Member[]>([]);
  // the chat's member count changes with member_added/member_removed: fetch again then
  const count = useChats((s) => s.chats.find((c) => String(c.id) === chatId)?.member_count ?? 0);

  const load = useCallback(async () => {
    const all: Member[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await api.chats.members(chatId, cursor, 100);
      all.push(...res.members);
      cursor = res.next_cursor;
      if (!cursor) break;
    }
    useChats.getState().cacheUsers(all.map((m) => m.user));
    return all;
  }, [chatId]);

  const reload = useCallback(() => {
    load().then(setMembers, () => undefined); // offline or no longer a member: keep what we had
  }, [load]);

  useEffect(() => {
    let live = true;
    load().then(
      (all) => {
        if (live) setMembers(all);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [load, count]);

  return { members, reload };
}
