-- Messages: batched sends, pages, edits and tombstones.
-- Every statement returning messages selects the same columns (messenger.messages.MESSAGE_COLUMNS).

-- name: lock_chats
-- Sends lock their chats' rows in id order (no deadlocks between batches): seq allocation for
-- one chat serializes here, other chats proceed in parallel.
SELECT id, kind, last_seq FROM chats WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE

-- name: member_roles_for
-- Roles of (chat, user) pairs; pairs that are not members are absent.
SELECT m.chat_id, m.user_id, m.role
FROM unnest($1::bigint[], $2::bigint[]) AS k (chat_id, user_id)
JOIN chat_members m ON m.chat_id = k.chat_id AND m.user_id = k.user_id

-- name: messages_by_keys
-- Already-sent messages for (chat, sender, client_msg_id) idempotency keys.
SELECT msg.id, msg.chat_id, msg.seq, msg.sender_id, msg.client_msg_id, msg.text, msg.reply_to_id, msg.mentions,
       msg.created_at, msg.edited_at, msg.deleted_at IS NOT NULL AS deleted
FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k (chat_id, sender_id, client_msg_id)
JOIN messages msg ON msg.chat_id = k.chat_id AND msg.sender_id = k.sender_id AND msg.client_msg_id = k.client_msg_id

-- name: message_chats
-- The chat of each message id (reply targets).
SELECT id, chat_id FROM messages WHERE id = ANY($1::bigint[])

-- name: mentioned_members
-- Which (chat, lower-cased username) candidates are current members of that chat.
SELECT k.chat_id, k.name, m.user_id
FROM unnest($1::bigint[], $2::text[]) AS k (chat_id, name)
JOIN users u ON lower(u.username) = k.name
JOIN chat_members m ON m.chat_id = k.chat_id AND m.user_id = u.id

-- name: insert_messages
-- A whole batch in one statement (one round trip while the chat rows are locked): the
-- messages ($1-$7; mentions travel as array literals since arrays cannot nest ragged), each
-- chat's new last_seq ($8, $9) and each sender's read marker ($10-$12, unique pairs).
WITH inserted AS (
    INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions)
    SELECT c, s, u, k, t, r, m::bigint[]
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[])
         AS x (c, s, u, k, t, r, m)
    RETURNING id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
              created_at, edited_at, deleted_at IS NOT NULL AS deleted
), bumped AS (
    UPDATE chats SET last_seq = x.seq, last_activity = now()
    FROM unnest($8::bigint[], $9::bigint[]) AS x (id, seq)
    WHERE chats.id = x.id
), marked AS (
    UPDATE chat_members SET last_read_seq = greatest(chat_members.last_read_seq, x.seq)
    FROM unnest($10::bigint[], $11::bigint[], $12::bigint[]) AS x (chat_id, user_id, seq)
    WHERE chat_members.chat_id = x.chat_id AND chat_members.user_id = x.user_id
)
SELECT * FROM inserted

-- name: messages_latest
SELECT id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
       created_at, edited_at, deleted_at IS NOT NULL AS deleted
FROM messages WHERE chat_id = $1 ORDER BY seq DESC LIMIT $2

-- name: messages_before
-- Newest first below $2 (and above $3); the caller reverses to ascending.
SELECT id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
       created_at, edited_at, deleted_at IS NOT NULL AS deleted
FROM messages WHERE chat_id = $1 AND seq < $2 AND seq > $3 ORDER BY seq DESC LIMIT $4

-- name: messages_after
-- Oldest first above $2 (and below $3).
SELECT id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
       created_at, edited_at, deleted_at IS NOT NULL AS deleted
FROM messages WHERE chat_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq ASC LIMIT $4

-- name: lock_message
SELECT id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
       created_at, edited_at, deleted_at IS NOT NULL AS deleted
FROM messages WHERE id = $1 AND chat_id = $2 FOR UPDATE

-- name: edit_message
UPDATE messages SET text = $2, mentions = $3::bigint[], edited_at = now() WHERE id = $1
RETURNING id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
          created_at, edited_at, deleted_at IS NOT NULL AS deleted

-- name: tombstone_message
UPDATE messages SET text = NULL, mentions = '{}', deleted_at = now() WHERE id = $1
