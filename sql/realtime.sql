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

-- name: realtime_open_chats
-- The chats each of these users currently belongs to (presence goes to their co-members).
SELECT user_id, array_agg(chat_id) AS chat_ids
FROM member_spans
WHERE user_id = ANY($1::bigint[]) AND to_pos IS NULL
GROUP BY user_id
