"""Seeding straight into the server's database: users, sessions, group chats, memberships.

Thousands of users are made with a handful of `INSERT .. SELECT FROM unnest(..)` statements
(not thousands of API calls), and each gets a live session row and an access token minted with
the server's SECRET_KEY, exactly as a login would. Every run uses fresh usernames (a run tag),
so seeding into a database that already holds data (a `--url` server) is safe.

For the baseline app nothing is stored: `synthetic` hands out the same topology with made-up
ids and the app takes the user and rooms from the query string.
"""

from __future__ import annotations

import secrets
import time

import asyncpg
import msgspec

PASSWORD = "bench-password-123"
# Tokens outlive any run; the server only checks signature, expiry and that the session lives.
TOKEN_TTL = 7 * 24 * 3600


class SeedUser(msgspec.Struct, array_like=True):
    id: int
    username: str
    token: str
    chats: list[int]


class Topology(msgspec.Struct):
    users: list[SeedUser]
    # chat id -> member user ids
    rooms: dict[int, list[int]]
    # chats whose history has replies and reactions (`conversation`: every other chat)
    conversation: list[int] = []


def rooms_of(n_users: int, room_size: int) -> list[list[int]]:
    """User indexes grouped into disjoint rooms of `room_size` (the last may be smaller); 0: none."""
    if room_size <= 0:
        return []
    room_size = max(1, min(room_size, n_users))
    return [list(range(i, min(i + room_size, n_users))) for i in range(0, n_users, room_size)]


def synthetic(n_users: int, room_size: int) -> Topology:
    users = [SeedUser(i + 1, f"u{i + 1}", "", []) for i in range(n_users)]
    rooms: dict[int, list[int]] = {}
    for r, members in enumerate(rooms_of(n_users, room_size)):
        chat_id = r + 1
        rooms[chat_id] = [users[m].id for m in members]
        for m in members:
            users[m].chats.append(chat_id)
    return Topology(users, rooms)


async def seed(
    dsn: str,
    secret_key: str,
    n_users: int,
    room_size: int,
    *,
    messages_per_chat: int = 0,
    conversation: bool = False,
    chats: list[tuple[str, list[int]]] | None = None,
) -> Topology:
    """Insert `n_users` verified users with sessions, in group chats of `room_size` (or in
    `chats`: (kind, member user indexes) pairs, kind "direct" or "group")."""
    from messenger.passwords import hash_sync
    from messenger.tokens import TokenSigner

    signer = TokenSigner(secret_key, ttl=TOKEN_TTL)
    tag = secrets.token_hex(3)
    password_hash = hash_sync(PASSWORD, 4)
    names = [f"b{tag}_{i}" for i in range(n_users)]
    if chats is None:
        chats = [("group", g) for g in rooms_of(n_users, room_size)]
    groups = [members for _, members in chats]
    kinds = [kind for kind, _ in chats]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            rows = await conn.fetch(
                """INSERT INTO users (email, username, display_name, password_hash, email_verified_at)
                   SELECT n || '@bench.invalid', n, n, $2, now() FROM unnest($1::text[]) AS n
                   RETURNING id, username""",
                names,
                password_hash,
            )
            ids_by_name = {r["username"]: r["id"] for r in rows}
            user_ids = [ids_by_name[n] for n in names]
            rows = await conn.fetch(
                """INSERT INTO sessions (user_id, user_agent)
                   SELECT u, 'bench' FROM unnest($1::bigint[]) AS u RETURNING id, user_id""",
                user_ids,
            )
            session_of = {r["user_id"]: r["id"] for r in rows}
            chat_ids: list[int] = []
            decorated: list[int] = []
            if groups:
                # A direct chat has no title and one row per pair ("minid:maxid").
                direct_keys = [
                    ":".join(str(u) for u in sorted(user_ids[i] for i in g)) if kind == "direct" else None
                    for kind, g in chats
                ]
                rows = await conn.fetch(
                    """INSERT INTO chats (kind, title, direct_key, member_count, last_seq)
                       SELECT k, CASE WHEN k = 'direct' THEN NULL ELSE t END, d, c, $5
                       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS x (k, t, d, c, o)
                       ORDER BY o
                       RETURNING id""",
                    kinds,
                    [f"bench {tag} room {i}" for i in range(len(groups))],
                    direct_keys,
                    [len(g) for g in groups],
                    messages_per_chat,
                )
                chat_ids = sorted(r["id"] for r in rows)
                m_chat: list[int] = []
                m_user: list[int] = []
                m_role: list[str] = []
                for chat_id, kind, group in zip(chat_ids, kinds, groups, strict=True):
                    for k, idx in enumerate(group):
                        m_chat.append(chat_id)
                        m_user.append(user_ids[idx])
                        # Neither member of a direct chat has power over the other.
                        m_role.append("owner" if k == 0 and kind != "direct" else "member")
                await conn.copy_records_to_table(
                    "chat_members",
                    records=zip(m_chat, m_user, m_role, strict=True),
                    columns=["chat_id", "user_id", "role"],
                )
                # Members see the chat's stream from now on (their membership span).
                pos = await conn.fetchval("SELECT pos FROM event_stream WHERE id = 1")
                await conn.copy_records_to_table(
                    "member_spans",
                    records=((c, u, pos) for c, u in zip(m_chat, m_user, strict=True)),
                    columns=["chat_id", "user_id", "from_pos"],
                )
                if messages_per_chat:
                    await _seed_messages(conn, chat_ids, groups, user_ids, messages_per_chat)
                    if conversation:
                        decorated = chat_ids[::2]
                        await _seed_conversation(conn, decorated)
    finally:
        await conn.close()
    now = time.time()
    users = [
        SeedUser(uid, name, signer.issue_access(uid, session_of[uid], now=now), [])
        for uid, name in zip(user_ids, names, strict=True)
    ]
    rooms: dict[int, list[int]] = {}
    for chat_id, group in zip(chat_ids, groups, strict=True):
        rooms[chat_id] = [user_ids[i] for i in group]
        for i in group:
            users[i].chats.append(chat_id)
    return Topology(users, rooms, decorated)


async def _seed_messages(
    conn: asyncpg.Connection, chat_ids: list[int], groups: list[list[int]], user_ids: list[int], per_chat: int
) -> None:
    """History for the REST paging scenario (messages only; no events, nobody is replaying)."""
    records = []
    for chat_id, group in zip(chat_ids, groups, strict=True):
        for seq in range(1, per_chat + 1):
            sender = user_ids[group[seq % len(group)]]
            records.append((chat_id, seq, sender, f"seed-{chat_id}-{seq}", f"history message {seq} " + "x" * 60))
    await conn.copy_records_to_table(
        "messages", records=records, columns=["chat_id", "seq", "sender_id", "client_msg_id", "text"]
    )


async def _seed_conversation(conn: asyncpg.Connection, chat_ids: list[int]) -> None:
    """Make the history look lived-in: every other message replies to the one three before it,
    and about two thirds of each chat's members react to every message with one of three emoji."""
    await conn.execute(
        """UPDATE messages m SET reply_to_id = r.id FROM messages r
           WHERE m.chat_id = ANY($1::bigint[]) AND r.chat_id = m.chat_id AND r.seq = m.seq - 3 AND m.seq % 2 = 0""",
        chat_ids,
    )
    await conn.execute(
        """INSERT INTO reactions (message_id, user_id, emoji)
           SELECT m.id, cm.user_id, (ARRAY['👍', '❤️', '😂'])[1 + (cm.user_id + m.seq) % 3]
           FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id
           WHERE m.chat_id = ANY($1::bigint[]) AND (cm.user_id * 7 + m.seq) % 3 <> 0""",
        chat_ids,
    )
    await conn.execute(
        """INSERT INTO reaction_counts (message_id, emoji, count)
           SELECT x.message_id, x.emoji, count(*) FROM reactions x JOIN messages m ON m.id = x.message_id
           WHERE m.chat_id = ANY($1::bigint[])
           GROUP BY x.message_id, x.emoji ORDER BY x.message_id, min(x.created_at)""",
        chat_ids,
    )
