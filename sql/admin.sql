-- Server administration: the admin API (/v1/admin/*) and the `messenger admin` CLI.

-- name: admin_flag
SELECT is_admin FROM users WHERE id = $1 AND deactivated_at IS NULL AND deleted_at IS NULL

-- name: admin_user_by_username
SELECT id FROM users WHERE lower(username) = lower($1) AND deleted_at IS NULL

-- name: admin_insert_user
-- The CLI makes accounts verified: the operator vouches for the address.
INSERT INTO users (email, username, display_name, password_hash, email_verified_at, is_admin)
VALUES ($1, $2, $2, $3, now(), $4)
RETURNING id

-- name: admin_set_password
UPDATE users SET password_hash = $2, email_verified_at = coalesce(email_verified_at, now())
WHERE id = $1 AND deleted_at IS NULL

-- name: admin_set_flag
UPDATE users SET is_admin = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id

-- name: admin_deactivate
-- Deactivating again keeps the first time and reason.
UPDATE users SET deactivated_at = coalesce(deactivated_at, now()),
    deactivation_reason = CASE WHEN deactivated_at IS NULL THEN $2 ELSE deactivation_reason END
WHERE id = $1 AND deleted_at IS NULL
RETURNING id

-- name: admin_reactivate
UPDATE users SET deactivated_at = NULL, deactivation_reason = NULL WHERE id = $1 AND deleted_at IS NULL RETURNING id

-- name: admin_list_users
-- Newest account first (keyset on id < $2); $1 is a lower-cased prefix of username, display
-- name or email ('' for everyone). Deleted accounts are listed too: their rows still exist.
SELECT u.id, u.username, u.display_name, u.bio, media_avatar_url(u.avatar_media_id) AS avatar_url, u.created_at,
       u.email, u.is_admin, u.deactivated_at,
       (SELECT max(s.last_used_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at
FROM users u
WHERE u.id < $2
  AND ($1 = ''
       OR starts_with(lower(u.username), $1)
       OR starts_with(lower(u.display_name), $1)
       OR starts_with(lower(u.email), $1))
ORDER BY u.id DESC
LIMIT $3

-- name: admin_stats
SELECT
    (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS users,
    (SELECT count(DISTINCT user_id) FROM sessions WHERE last_used_at > now() - interval '24 hours')
        AS active_users_24h,
    (SELECT count(*) FROM chats) AS chats,
    (SELECT count(*) FROM messages WHERE deleted_at IS NULL) AS messages,
    (SELECT count(*) FROM messages WHERE created_at > now() - interval '24 hours' AND deleted_at IS NULL)
        AS messages_24h

-- name: admin_message_chat
SELECT chat_id FROM messages WHERE id = $1

-- name: admin_notify_end_sessions
-- Sessions ended outside a server process (the CLI): every node LISTENs and closes their sockets.
SELECT pg_notify('messenger_end_sessions', $1::text)
