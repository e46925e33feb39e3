-- Pins (a pinned message has messages.pinned_at set; see 0008_conversation.sql).

-- name: lock_chat_for_pins
-- The chat row's lock serializes pins of one chat, which keeps the per-chat limit exact.
SELECT c.kind, m.role FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $2
WHERE c.id = $1 FOR UPDATE OF c

-- name: pin_target
SELECT id, deleted_at IS NOT NULL AS deleted, pinned_at IS NOT NULL AS pinned FROM messages
WHERE id = $1 AND chat_id = $2 FOR NO KEY UPDATE

-- name: pin_count
SELECT count(*) FROM messages WHERE chat_id = $1 AND pinned_at IS NOT NULL

-- name: set_pinned
UPDATE messages SET pinned_at = CASE WHEN $2 THEN now() END WHERE id = $1
