-- Notifications: creation by the notification job, the list, read marks, settings, digests.
--
-- A notification is shown (and counts as unread) only while its user is still a member of the
-- chat and the message is not deleted; it counts as read once marked read or once the chat's
-- read marker passed the message (reading the chat reads its notifications).

-- name: notification_candidates
-- Who should be notified of these messages: mentioned members (even in muted chats), the peer
-- of a direct chat and members who asked for every message of a group or channel (unless
-- muted); never the sender, never for a message already read. One row per (user, message), a
-- mention winning over a plain message. `email_ok`: the user's email settings allow it (the
-- same rule as in digest_pending).
WITH msg AS (
    SELECT m.id, m.chat_id, m.seq, m.sender_id, m.mentions, c.kind AS chat_kind
    FROM messages m JOIN chats c ON c.id = m.chat_id
    WHERE m.id = ANY($1::bigint[]) AND m.deleted_at IS NULL
), wanted AS (
    SELECT msg.id AS message_id, u.user_id, 'mention'::text AS kind
    FROM msg CROSS JOIN LATERAL unnest(msg.mentions) AS u (user_id)
    UNION ALL
    SELECT msg.id, cm.user_id, 'message'::text
    FROM msg JOIN chat_members cm ON cm.chat_id = msg.chat_id
    WHERE msg.chat_kind = 'direct'
    UNION ALL
    SELECT msg.id, s.user_id, 'message'::text
    FROM msg JOIN chat_settings s ON s.chat_id = msg.chat_id AND s.notify_all
    WHERE msg.chat_kind <> 'direct'
)
SELECT DISTINCT ON (w.user_id, w.message_id)
       w.user_id, w.message_id, msg.chat_id, w.kind,
       (u.email_verified_at IS NOT NULL AND CASE
            WHEN w.kind = 'mention' THEN coalesce(us.email_mentions, true)
            WHEN msg.chat_kind = 'direct' THEN coalesce(us.email_direct_messages, true)
            ELSE coalesce(us.email_group_messages, false) END) AS email_ok
FROM wanted w
JOIN msg ON msg.id = w.message_id
JOIN chat_members cm ON cm.chat_id = msg.chat_id AND cm.user_id = w.user_id
JOIN users u ON u.id = w.user_id
LEFT JOIN chat_settings cs ON cs.chat_id = msg.chat_id AND cs.user_id = w.user_id
LEFT JOIN user_settings us ON us.user_id = w.user_id
WHERE w.user_id <> msg.sender_id
  AND cm.last_read_seq < msg.seq
  AND (w.kind = 'mention' OR NOT coalesce(cs.muted, false))
  -- $2 (an edit): only mentions of these users.
  AND ($2::bigint[] IS NULL OR (w.kind = 'mention' AND w.user_id = ANY($2::bigint[])))
ORDER BY w.user_id, w.message_id, w.kind = 'mention' DESC

-- name: insert_notifications
-- A retried job inserts nothing twice (unique (user_id, message_id)); only new rows return.
INSERT INTO notifications (user_id, kind, chat_id, message_id, email)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::boolean[])
ON CONFLICT (user_id, message_id) DO NOTHING
RETURNING id, user_id, kind, chat_id, message_id, created_at, read_at IS NOT NULL AS read

-- name: notifications_page
-- Newest first, below the id cursor $2.
SELECT n.id, n.kind, n.chat_id, n.message_id, n.created_at,
       (n.read_at IS NOT NULL OR m.seq <= cm.last_read_seq) AS read
FROM notifications n
JOIN chat_members cm ON cm.chat_id = n.chat_id AND cm.user_id = n.user_id
JOIN messages m ON m.id = n.message_id
WHERE n.user_id = $1 AND n.id < $2 AND m.deleted_at IS NULL
ORDER BY n.id DESC
LIMIT $3

-- name: unread_notifications_page
SELECT n.id, n.kind, n.chat_id, n.message_id, n.created_at, false AS read
FROM notifications n
JOIN chat_members cm ON cm.chat_id = n.chat_id AND cm.user_id = n.user_id
JOIN messages m ON m.id = n.message_id
WHERE n.user_id = $1 AND n.id < $2 AND n.read_at IS NULL AND m.deleted_at IS NULL AND m.seq > cm.last_read_seq
ORDER BY n.id DESC
LIMIT $3

-- name: unread_notification_count
SELECT count(*)
FROM notifications n
JOIN chat_members cm ON cm.chat_id = n.chat_id AND cm.user_id = n.user_id
JOIN messages m ON m.id = n.message_id
WHERE n.user_id = $1 AND n.read_at IS NULL AND m.deleted_at IS NULL AND m.seq > cm.last_read_seq

-- name: mark_notifications_read
-- Ids of other users' notifications are ignored (not an error: ids are not secrets to probe).
UPDATE notifications SET read_at = now()
WHERE user_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL

-- name: mark_all_notifications_read
UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL

-- name: get_user_settings
SELECT coalesce(s.email_mentions, true) AS email_mentions,
       coalesce(s.email_direct_messages, true) AS email_direct_messages,
       coalesce(s.email_group_messages, false) AS email_group_messages,
       coalesce(s.show_last_seen, true) AS show_last_seen
FROM users u LEFT JOIN user_settings s ON s.user_id = u.id
WHERE u.id = $1

-- name: update_user_settings
-- NULL leaves a setting as it is.
INSERT INTO user_settings AS s (user_id, email_mentions, email_direct_messages, email_group_messages, show_last_seen)
VALUES ($1, coalesce($2, true), coalesce($3, true), coalesce($4, false), coalesce($5, true))
ON CONFLICT (user_id) DO UPDATE SET
    email_mentions = coalesce($2, s.email_mentions),
    email_direct_messages = coalesce($3, s.email_direct_messages),
    email_group_messages = coalesce($4, s.email_group_messages),
    show_last_seen = coalesce($5, s.show_last_seen)
RETURNING email_mentions, email_direct_messages, email_group_messages, show_last_seen

-- name: get_chat_settings
-- No row: not a member.
SELECT coalesce(s.muted, false) AS muted, coalesce(s.notify_all, false) AS notify_all
FROM chat_members cm LEFT JOIN chat_settings s ON s.chat_id = cm.chat_id AND s.user_id = cm.user_id
WHERE cm.chat_id = $1 AND cm.user_id = $2

-- name: update_chat_settings
-- Inserts only for a member (no row returned otherwise); NULL leaves a setting as it is.
INSERT INTO chat_settings AS s (chat_id, user_id, muted, notify_all)
SELECT cm.chat_id, cm.user_id, coalesce($3, false), coalesce($4, false)
FROM chat_members cm WHERE cm.chat_id = $1 AND cm.user_id = $2
ON CONFLICT (chat_id, user_id) DO UPDATE SET
    muted = coalesce($3, s.muted),
    notify_all = coalesce($4, s.notify_all)
RETURNING muted, notify_all

-- name: digest_due_users
-- Users with a notification waiting for an email for at least the window ($1 seconds).
SELECT DISTINCT user_id FROM notifications
WHERE email AND read_at IS NULL AND created_at <= now() - make_interval(secs => $1)
LIMIT $2

-- name: digest_lock_user
-- Serializes claims for one user (transaction-scoped; the two-key form is its own key space).
SELECT pg_advisory_xact_lock($1::integer, $2::integer)

-- name: digest_pending
-- A user's notifications waiting for an email, oldest first, whether each is older than the
-- window ($2 seconds), and whether each still deserves an email: unread,
-- still a member, message not deleted and not read in the chat, and the user's settings (the
-- same rule as notification_candidates) still allow it.
SELECT n.id, n.created_at, n.created_at <= now() - make_interval(secs => $2) AS due,
       (cm.user_id IS NOT NULL AND m.deleted_at IS NULL AND m.seq > cm.last_read_seq
        AND u.email_verified_at IS NOT NULL AND CASE
            WHEN n.kind = 'mention' THEN coalesce(us.email_mentions, true)
            WHEN c.kind = 'direct' THEN coalesce(us.email_direct_messages, true)
            ELSE coalesce(us.email_group_messages, false) END) AS live
FROM notifications n
JOIN messages m ON m.id = n.message_id
JOIN chats c ON c.id = n.chat_id
JOIN users u ON u.id = n.user_id
LEFT JOIN chat_members cm ON cm.chat_id = n.chat_id AND cm.user_id = n.user_id
LEFT JOIN user_settings us ON us.user_id = n.user_id
WHERE n.user_id = $1 AND n.email AND n.read_at IS NULL
ORDER BY n.created_at
FOR UPDATE OF n

-- name: digest_drop
UPDATE notifications SET email = false WHERE id = ANY($1::bigint[])

-- name: digest_insert
INSERT INTO digest_emails (user_id, window_start) VALUES ($1, $2)
ON CONFLICT (user_id, window_start) DO NOTHING
RETURNING id

-- name: digest_claim
UPDATE notifications SET email = false, digest_id = $1 WHERE id = ANY($2::bigint[])

-- name: digests_unsent
-- Claimed digests not sent yet (new, retrying after an SMTP failure, or left by a dead worker).
SELECT id FROM digest_emails WHERE outcome IS NULL AND next_attempt_at <= now()
ORDER BY next_attempt_at LIMIT $1

-- name: digest_try_lock
-- Session-scoped: held on the sending connection while the mail is sent, released by
-- PostgreSQL at once if the worker dies, so a retry can never overlap a live send.
SELECT pg_try_advisory_lock($1::integer, $2::integer)

-- name: digest_unlock
SELECT pg_advisory_unlock($1::integer, $2::integer)

-- name: digest_get
SELECT d.id, d.user_id, d.outcome, d.attempts, u.email, u.username, u.display_name
FROM digest_emails d JOIN users u ON u.id = d.user_id
WHERE d.id = $1

-- name: digest_items
-- The claimed notifications with what the mail shows; `unread` as in the API.
SELECT n.kind, n.chat_id, c.kind AS chat_kind, c.title, n.created_at, m.text,
       sender.display_name AS sender_name,
       (n.read_at IS NULL AND cm.user_id IS NOT NULL AND m.deleted_at IS NULL AND m.seq > cm.last_read_seq) AS unread
FROM notifications n
JOIN messages m ON m.id = n.message_id
JOIN chats c ON c.id = n.chat_id
JOIN users sender ON sender.id = m.sender_id
LEFT JOIN chat_members cm ON cm.chat_id = n.chat_id AND cm.user_id = n.user_id
WHERE n.digest_id = $1
ORDER BY m.created_at, m.id

-- name: digest_finish
UPDATE digest_emails SET outcome = $2, sent_at = CASE WHEN $2 = 'sent' THEN now() END WHERE id = $1

-- name: digest_failed
-- Back off linearly (a minute per attempt); give up after $2 attempts.
UPDATE digest_emails SET attempts = attempts + 1,
    next_attempt_at = now() + make_interval(mins => attempts + 1),
    outcome = CASE WHEN attempts + 1 >= $2 THEN 'failed' END
WHERE id = $1

-- name: settle_read_notifications
-- Notifications read by reading their chat get read_at too, so the unread index (and the unread
-- count's scan) only holds what is really unread.
UPDATE notifications n SET read_at = now()
FROM messages m, chat_members cm
WHERE n.read_at IS NULL AND m.id = n.message_id
  AND cm.chat_id = n.chat_id AND cm.user_id = n.user_id AND m.seq <= cm.last_read_seq

-- name: delete_old_notifications
DELETE FROM notifications WHERE created_at < now() - make_interval(days => $1)

-- name: delete_old_digests
DELETE FROM digest_emails WHERE outcome IS NOT NULL AND created_at < now() - make_interval(days => $1)
