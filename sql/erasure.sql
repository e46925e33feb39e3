-- Account closure (DELETE /v1/users/me): erase everything personal, keep the messages.

-- name: erasure_lock_user
SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE

-- name: erasure_end_sessions
UPDATE sessions SET ended_at = now(), end_reason = 'account_deleted'
WHERE user_id = $1 AND ended_at IS NULL
RETURNING id

-- name: erasure_personal_rows
-- Sessions (with their user agents and refresh tokens, by cascade), email tokens,
-- notifications, digest mails and settings.
WITH s AS (DELETE FROM sessions WHERE user_id = $1),
     e AS (DELETE FROM email_tokens WHERE user_id = $1),
     n AS (DELETE FROM notifications WHERE user_id = $1),
     d AS (DELETE FROM digest_emails WHERE user_id = $1)
DELETE FROM user_settings WHERE user_id = $1

-- name: erasure_media
-- The account's media that no chat shows any more (not attached to a live message): the rows
-- go now, the stored objects right after commit.
DELETE FROM media m
WHERE m.owner_id = $1
  AND NOT EXISTS (
        SELECT 1 FROM message_attachments a JOIN messages msg ON msg.id = a.message_id
        WHERE a.media_id = m.id AND msg.deleted_at IS NULL)
RETURNING storage_key

-- name: erasure_profile
UPDATE users SET email = NULL, username = NULL, display_name = 'Deleted account', bio = '',
    avatar_media_id = NULL, password_hash = NULL, is_admin = false, deleted_at = now()
WHERE id = $1
