-- Messages: batched sends, pages, edits and tombstones.
-- Statements returning messages select the same base columns (messenger.messages.message_from);
-- the "rendered" ones add, in the same query, what a reader sees of them
-- (messenger.messages.rendered_from): the pin flag, where a forwarded copy came from (its chat
-- and message only for members of that chat), the reply preview from the replied message's
-- current row, and the reaction counts (the row's copy, migration 0014) with the emoji the
-- reader used (`mine`, one index probe, only for messages with reactions). A reader id of 0
-- (nobody) renders the shared view that persisted events carry.

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
-- Already-sent messages for (chat, sender, client_msg_id) idempotency keys, rendered for their sender.
SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
       m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted, m.pinned_at IS NOT NULL AS pinned,
       m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at,
       fm.user_id IS NOT NULL AS fwd_visible,
       r.seq AS r_seq, r.sender_id AS r_sender_id, left(r.text, 200) AS r_text,
       r.deleted_at IS NOT NULL AS r_deleted,
       r.deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments ra WHERE ra.message_id = r.id) AS r_files,
       m.reactions_json AS reactions,
       CASE WHEN m.reactions_json IS NOT NULL THEN
           ARRAY(SELECT x.emoji FROM reactions x WHERE x.message_id = m.id AND x.user_id = k.sender_id) END AS mine
FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k (chat_id, sender_id, client_msg_id)
JOIN messages m ON m.chat_id = k.chat_id AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN chat_members fm ON fm.chat_id = m.fwd_chat_id AND fm.user_id = k.sender_id

-- name: reply_targets
-- The chat of each replied message and what its preview shows.
SELECT id, chat_id, seq, sender_id, left(text, 200) AS text, deleted_at IS NOT NULL AS deleted,
       deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments a WHERE a.message_id = messages.id) AS files
FROM messages WHERE id = ANY($1::bigint[])

-- name: forward_sources
-- The originals of forwards: chat, text, sender's name, attachments in order, and (for a
-- forward of a forward) where that one came from, so every copy names the first original.
SELECT m.id, m.chat_id, m.text, m.deleted_at IS NOT NULL AS deleted, m.sender_id, u.display_name,
       m.created_at, m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at
FROM messages m JOIN users u ON u.id = m.sender_id
WHERE m.id = ANY($1::bigint[])

-- name: mentioned_members
-- Which (chat, lower-cased username) candidates are current members of that chat.
SELECT k.chat_id, k.name, m.user_id
FROM unnest($1::bigint[], $2::text[]) AS k (chat_id, name)
JOIN users u ON lower(u.username) = k.name
JOIN chat_members m ON m.chat_id = k.chat_id AND m.user_id = u.id

-- name: insert_messages
-- A whole batch in one statement (one round trip while the chat rows are locked): the
-- messages ($1-$7; mentions travel as array literals since arrays cannot nest ragged), each
-- chat's new last_seq ($8, $9), each sender's read marker ($10-$12, unique pairs), the
-- origin of forwarded copies ($13-$17, null for the others) and the search index ($18, tsvector
-- literals, see messenger/searchtext.py).
WITH inserted AS (
    INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
                          fwd_sender_id, fwd_sender_name, fwd_chat_id, fwd_message_id, fwd_created_at, search)
    SELECT c, s, u, k, t, r, m::bigint[], fs, fn, fc, fi, fa, v::tsvector
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                $13::bigint[], $14::text[], $15::bigint[], $16::bigint[], $17::timestamptz[], $18::text[])
         AS x (c, s, u, k, t, r, m, fs, fn, fc, fi, fa, v)
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

-- name: send_messages
-- A batch without attachments in one statement and, outside a transaction, one commit: see
-- sql/schema/0012_send_batch.sql and 0015_send_cost.sql. One row per request, in request order.
SELECT ord, outcome, id, seq, created_at, pos, payload, notify
FROM send_messages($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::text[],
                   $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13::timestamptz[],
                   $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[])

-- name: send_message
-- A batch of one request: send_messages' steps for one message, with scalar arguments (see
-- sql/schema/0018_send_one.sql). One row.
SELECT outcome, id, seq, created_at, pos, payload, notify
FROM send_message($1::bigint, $2::bigint, $3::text, $4::text, $5::bigint, $6::boolean, $7::bigint[], $8::text,
                  $9::bigint, $10::text, $11::bigint, $12::bigint, $13::timestamptz,
                  $14::bytea, $15::bytea, $16::bytea, $17::bytea)

-- name: messages_before
-- Newest first below $2 (and above $3), rendered for reader $5; the caller reverses to ascending.
-- The newest page is this with $2 above every seq.
SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
       m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted, m.pinned_at IS NOT NULL AS pinned,
       m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at,
       fm.user_id IS NOT NULL AS fwd_visible,
       r.seq AS r_seq, r.sender_id AS r_sender_id, left(r.text, 200) AS r_text,
       r.deleted_at IS NOT NULL AS r_deleted,
       r.deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments ra WHERE ra.message_id = r.id) AS r_files,
       m.reactions_json AS reactions,
       CASE WHEN m.reactions_json IS NOT NULL THEN
           ARRAY(SELECT x.emoji FROM reactions x WHERE x.message_id = m.id AND x.user_id = $5) END AS mine
FROM messages m
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN chat_members fm ON fm.chat_id = m.fwd_chat_id AND fm.user_id = $5
WHERE m.chat_id = $1 AND m.seq < $2 AND m.seq > $3 ORDER BY m.seq DESC LIMIT $4

-- name: messages_after
-- Oldest first above $2 (and below $3), rendered for reader $5.
SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
       m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted, m.pinned_at IS NOT NULL AS pinned,
       m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at,
       fm.user_id IS NOT NULL AS fwd_visible,
       r.seq AS r_seq, r.sender_id AS r_sender_id, left(r.text, 200) AS r_text,
       r.deleted_at IS NOT NULL AS r_deleted,
       r.deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments ra WHERE ra.message_id = r.id) AS r_files,
       m.reactions_json AS reactions,
       CASE WHEN m.reactions_json IS NOT NULL THEN
           ARRAY(SELECT x.emoji FROM reactions x WHERE x.message_id = m.id AND x.user_id = $5) END AS mine
FROM messages m
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN chat_members fm ON fm.chat_id = m.fwd_chat_id AND fm.user_id = $5
WHERE m.chat_id = $1 AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq ASC LIMIT $4

-- name: messages_rendered
-- Messages by id, rendered for reader $2, in no particular order.
SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
       m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted, m.pinned_at IS NOT NULL AS pinned,
       m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at,
       fm.user_id IS NOT NULL AS fwd_visible,
       r.seq AS r_seq, r.sender_id AS r_sender_id, left(r.text, 200) AS r_text,
       r.deleted_at IS NOT NULL AS r_deleted,
       r.deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments ra WHERE ra.message_id = r.id) AS r_files,
       m.reactions_json AS reactions,
       CASE WHEN m.reactions_json IS NOT NULL THEN
           ARRAY(SELECT x.emoji FROM reactions x WHERE x.message_id = m.id AND x.user_id = $2) END AS mine
FROM messages m
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN chat_members fm ON fm.chat_id = m.fwd_chat_id AND fm.user_id = $2
WHERE m.id = ANY($1::bigint[])

-- name: pinned_messages
-- The chat's pins, most recently pinned first, rendered for reader $2.
SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
       m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted, m.pinned_at IS NOT NULL AS pinned,
       m.fwd_sender_id, m.fwd_sender_name, m.fwd_chat_id, m.fwd_message_id, m.fwd_created_at,
       fm.user_id IS NOT NULL AS fwd_visible,
       r.seq AS r_seq, r.sender_id AS r_sender_id, left(r.text, 200) AS r_text,
       r.deleted_at IS NOT NULL AS r_deleted,
       r.deleted_at IS NULL AND EXISTS (SELECT 1 FROM message_attachments ra WHERE ra.message_id = r.id) AS r_files,
       m.reactions_json AS reactions,
       CASE WHEN m.reactions_json IS NOT NULL THEN
           ARRAY(SELECT x.emoji FROM reactions x WHERE x.message_id = m.id AND x.user_id = $2) END AS mine
FROM messages m
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN chat_members fm ON fm.chat_id = m.fwd_chat_id AND fm.user_id = $2
WHERE m.chat_id = $1 AND m.pinned_at IS NOT NULL
ORDER BY m.pinned_at DESC, m.id DESC

-- name: lock_message
SELECT id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
       created_at, edited_at, deleted_at IS NOT NULL AS deleted
FROM messages WHERE id = $1 AND chat_id = $2 FOR UPDATE

-- name: replies_of
-- Messages quoting $1 (their events carry its preview).
SELECT id FROM messages WHERE reply_to_id = $1

-- name: edit_message
-- The search index follows the text ($4, a tsvector literal): only the current text matches.
UPDATE messages SET text = $2, mentions = $3::bigint[], search = $4::tsvector, edited_at = now() WHERE id = $1

-- name: tombstone_message
-- Deletion is final: the text, mentions, pin and reactions go with it (attachments stay linked
-- for the media ACL's sake but are never shown for a deleted message), and the search index, so
-- it is never found again. Returns whether it was pinned.
WITH gone_reactions AS (
    DELETE FROM reactions WHERE message_id = $1
), gone_counts AS (
    DELETE FROM reaction_counts WHERE message_id = $1
), old AS (
    SELECT pinned_at IS NOT NULL AS pinned FROM messages WHERE id = $1
)
UPDATE messages SET text = NULL, mentions = '{}', search = NULL, deleted_at = now(), pinned_at = NULL
WHERE id = $1
RETURNING (SELECT pinned FROM old)
