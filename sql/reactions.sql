-- Reactions: one row per (message, user, emoji) in `reactions`, counts in `reaction_counts`.
-- Every write runs under the message row's lock (lock_message_for_reaction), which serializes
-- the limits and the count of one message and orders its reactions_changed events.

-- name: lock_message_for_reaction
-- FOR NO KEY UPDATE: inserting reactions (a foreign key to this row) does not wait on it.
SELECT id, seq, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = $1 AND chat_id = $2 FOR NO KEY UPDATE

-- name: reaction_state
-- Whether user $2 already reacted with $3, how many distinct emoji they used, and how many
-- distinct emoji the message carries and whether $3 is one of them.
SELECT EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3) AS mine,
       (SELECT count(*) FROM reactions WHERE message_id = $1 AND user_id = $2) AS user_distinct,
       (SELECT count(*) FROM reaction_counts WHERE message_id = $1) AS message_distinct,
       EXISTS (SELECT 1 FROM reaction_counts WHERE message_id = $1 AND emoji = $3) AS known

-- name: add_reaction
WITH added AS (
    INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1
)
INSERT INTO reaction_counts (message_id, emoji, count)
SELECT $1, $3, 1 FROM added
ON CONFLICT (message_id, emoji) DO UPDATE SET count = reaction_counts.count + 1

-- name: remove_reaction
-- Returns a row only when the reaction existed.
DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1

-- name: decrement_reaction_count
-- The last one deletes the row (so the emoji's order of first use starts anew); any other
-- decrements it. One statement never touches the row twice: the UPDATE skips a deleted row.
WITH gone AS (
    DELETE FROM reaction_counts WHERE message_id = $1 AND emoji = $2 AND count = 1 RETURNING 1
)
UPDATE reaction_counts SET count = count - 1
WHERE message_id = $1 AND emoji = $2 AND NOT EXISTS (SELECT 1 FROM gone)

-- name: reaction_summary
SELECT emoji, count FROM reaction_counts WHERE message_id = $1 ORDER BY ord

-- name: reaction_users
-- Who reacted with emoji $2, oldest first, keyset after ($3, $4).
SELECT created_at, user_id FROM reactions
WHERE message_id = $1 AND emoji = $2 AND (created_at, user_id) > ($3, $4)
ORDER BY created_at, user_id
LIMIT $5

-- name: message_in_chat
SELECT 1 FROM messages WHERE id = $1 AND chat_id = $2
