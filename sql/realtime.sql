-- The realtime hub: which chats a connecting user's sockets follow, gap filling, presence.

-- name: realtime_spans_at
-- The spans of user $1 that are open at or after position $2, read in ONE statement together
-- with the stream head, so both come from the same snapshot: the hub knows exactly which
-- membership changes the returned spans already include (those at or below `head`).
SELECT s.pos AS head, m.chat_id, m.from_pos, m.to_pos
FROM event_stream s
LEFT JOIN member_spans m ON m.user_id = $1 AND (m.to_pos IS NULL OR m.to_pos > $2)
WHERE s.id = 1

-- name: realtime_events_after
-- A node catching up from PostgreSQL: events in ($1, $2], at most $3 of them.
SELECT pos, chat_id, type, payload, user_id FROM events WHERE pos > $1 AND pos <= $2 ORDER BY pos LIMIT $3

-- name: realtime_went
-- These users came online or went offline: the chats each currently belongs to (presence goes
-- to their co-members), and their last_seen_at, written at most once a minute per user.
WITH touched AS (
    UPDATE users SET last_seen_at = now()
    WHERE id = ANY($1::bigint[]) AND (last_seen_at IS NULL OR last_seen_at < now() - interval '1 minute')
)
SELECT user_id, array_agg(chat_id) AS chat_ids
FROM member_spans
WHERE user_id = ANY($1::bigint[]) AND to_pos IS NULL
GROUP BY user_id

-- name: realtime_presence_candidates
-- Whose presence a connecting user ($1) is shown at once: the other members of their direct
-- chats and of groups and channels with at most $2 members, most recently active chats first,
-- at most $3 of them (the `ready` snapshot then keeps the online ones).
SELECT o.user_id
FROM chat_members m
JOIN chats c ON c.id = m.chat_id AND (c.kind = 'direct' OR c.member_count <= $2)
JOIN chat_members o ON o.chat_id = m.chat_id AND o.user_id <> $1
WHERE m.user_id = $1
GROUP BY o.user_id
ORDER BY max(c.last_activity) DESC
LIMIT $3

