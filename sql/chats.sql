-- Chats and memberships.

-- name: member_role
SELECT role FROM chat_members WHERE chat_id = $1 AND user_id = $2

-- name: lock_chat
-- Every membership change locks the chat row first, so it serializes with sends and with
-- other membership changes of the same chat.
SELECT kind FROM chats WHERE id = $1 FOR UPDATE

-- name: lock_direct_chat
SELECT id FROM chats WHERE direct_key = $1 FOR UPDATE

-- name: existing_users
SELECT id FROM users WHERE id = ANY($1::bigint[])

-- name: insert_chat
-- A direct chat that already exists for the pair inserts nothing (and returns no row).
INSERT INTO chats (kind, title, description, direct_key, member_count)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (direct_key) DO NOTHING
RETURNING id

-- name: insert_members
-- New members start with everything before they joined read ($4 = the chat's last_seq).
INSERT INTO chat_members (chat_id, user_id, role, last_read_seq)
SELECT $1, u, r, $4 FROM unnest($2::bigint[], $3::text[]) AS x (u, r)
ON CONFLICT DO NOTHING
RETURNING user_id, role, joined_at

-- name: add_member_count
UPDATE chats SET member_count = member_count + $2 WHERE id = $1 RETURNING last_seq

-- name: chat_last_seq
SELECT last_seq FROM chats WHERE id = $1

-- name: chat_read_floors
-- The read markers every member's view is at least (markers only move forward): the lowest
-- marker (each member's own is at least that) and the second highest (whoever the reader is, the
-- highest marker of the others is at least that). Two chat_members_read index probes.
SELECT coalesce((SELECT last_read_seq FROM chat_members WHERE chat_id = $1
                 ORDER BY last_read_seq LIMIT 1), 0) AS lowest,
       coalesce((SELECT last_read_seq FROM chat_members WHERE chat_id = $1
                 ORDER BY last_read_seq DESC OFFSET 1 LIMIT 1), 0) AS second_highest

-- name: chat_for_user
-- The chat as `user` ($2) sees it; no row for non-members.
SELECT c.id, c.kind, c.title, c.description, c.created_at, c.member_count, m.role, c.last_seq,
       c.last_seq - m.last_read_seq AS unread_count, m.last_read_seq,
       (SELECT o.last_read_seq FROM chat_members o
        WHERE o.chat_id = c.id AND o.user_id <> $2
        ORDER BY o.last_read_seq DESC LIMIT 1) AS others_read_seq,
       lm.id AS m_id, lm.chat_id AS m_chat_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
       lm.client_msg_id AS m_client_msg_id, lm.text AS m_text, lm.reply_to_id AS m_reply_to_id,
       lm.mentions AS m_mentions, lm.created_at AS m_created_at, lm.edited_at AS m_edited_at,
       lm.deleted_at IS NOT NULL AS m_deleted
FROM chats c
JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $2
LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq
WHERE c.id = $1

-- name: chats_for_user
-- One page of the user's chats, newest activity first, keyset after ($2, $3); the last
-- message and the others' highest read marker (chat_members_read: at most two index entries per
-- chat) are looked up for the page only.
-- $5: a tsquery of word prefixes (messenger.searchtext) the title must match, or for a direct
-- chat the peer's display name or username; NULL: all.
WITH page AS (
    SELECT c.id, c.kind, c.title, c.description, c.created_at, c.member_count, m.role, c.last_seq,
           c.last_seq - m.last_read_seq AS unread_count, m.last_read_seq, c.last_activity
    FROM chat_members m
    JOIN chats c ON c.id = m.chat_id
    WHERE m.user_id = $1 AND (c.last_activity, c.id) < ($2, $3)
      AND ($5::tsquery IS NULL
           OR to_tsvector('simple', unaccent(coalesce(c.title, ''))) @@ $5::tsquery
           OR (c.kind = 'direct' AND EXISTS (
               SELECT 1 FROM chat_members pm JOIN users u ON u.id = pm.user_id
               WHERE pm.chat_id = c.id AND pm.user_id <> $1
                 AND to_tsvector('simple', unaccent(concat_ws(' ', u.display_name, u.username))) @@ $5::tsquery)))
    ORDER BY c.last_activity DESC, c.id DESC
    LIMIT $4
)
SELECT page.*,
       (SELECT o.last_read_seq FROM chat_members o
        WHERE o.chat_id = page.id AND o.user_id <> $1
        ORDER BY o.last_read_seq DESC LIMIT 1) AS others_read_seq,
       lm.id AS m_id, lm.chat_id AS m_chat_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
       lm.client_msg_id AS m_client_msg_id, lm.text AS m_text, lm.reply_to_id AS m_reply_to_id,
       lm.mentions AS m_mentions, lm.created_at AS m_created_at, lm.edited_at AS m_edited_at,
       lm.deleted_at IS NOT NULL AS m_deleted
FROM page
LEFT JOIN messages lm ON lm.chat_id = page.id AND lm.seq = page.last_seq
ORDER BY page.last_activity DESC, page.id DESC

-- name: update_chat
-- $2/$4: whether title/description were given (NULL clears them).
UPDATE chats SET title = CASE WHEN $2 THEN $3 ELSE title END,
                 description = CASE WHEN $4 THEN $5 ELSE description END
WHERE id = $1

-- name: member_ids
SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY joined_at, user_id

-- name: delete_chat
-- The chat and its messages (messages has no foreign key to chats, see 0021); the messages'
-- dependants go by their own cascades.
WITH messages_gone AS (DELETE FROM messages WHERE chat_id = $1)
DELETE FROM chats WHERE id = $1

-- name: members_page
-- Keyset on (joined_at, user_id) after ($2, $3).
SELECT user_id, role, joined_at, last_read_seq FROM chat_members
WHERE chat_id = $1 AND (joined_at, user_id) > ($2, $3)
ORDER BY joined_at, user_id
LIMIT $4

-- name: member_row
SELECT user_id, role, joined_at, last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2

-- name: set_role
UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2

-- name: remove_member
DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2

-- name: successor
-- Who inherits ownership when the owner leaves: the longest-standing admin, else member.
SELECT user_id FROM chat_members
WHERE chat_id = $1 AND user_id <> $2
ORDER BY role = 'admin' DESC, joined_at, user_id
LIMIT 1

-- name: mark_read
-- One read marker ($1 chat, $2 user, $3 seq), as mark_read_batch judges it: a batch of one
-- costs less this way (no function call, no sort, no separate lock step). No row: not a member.
WITH cur AS (
    SELECT c.last_seq
    FROM chat_members m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id = $1 AND m.user_id = $2
), moved AS (
    UPDATE chat_members SET last_read_seq = $3
    WHERE chat_id = $1 AND user_id = $2 AND last_read_seq < $3 AND $3 <= (SELECT last_seq FROM cur)
    RETURNING last_read_seq
)
SELECT cur.last_seq, (SELECT last_read_seq FROM moved) AS new_seq FROM cur

-- name: mark_read_batch
-- A batch of read markers in one call and, outside a transaction, one commit: see
-- sql/schema/0017_read_marker_batch.sql. One row per request, in request order.
SELECT last_seq, new_seq FROM mark_read_batch($1::bigint[], $2::bigint[], $3::bigint[])

-- name: chats_of_member
-- In id order, so two account closures sharing chats lock them in the same order.
SELECT chat_id FROM chat_members WHERE user_id = $1 ORDER BY chat_id
