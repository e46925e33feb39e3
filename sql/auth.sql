-- Accounts: registration, email tokens, sessions, refresh-token families.

-- name: session_is_live
-- Every authenticated request runs this; it also moves last_used_at, at most once a minute so
-- a busy session does not write on every request.
WITH touched AS (
    UPDATE sessions SET last_used_at = now()
    WHERE id = $1 AND ended_at IS NULL AND last_used_at < now() - interval '1 minute'
)
SELECT user_id FROM sessions WHERE id = $1 AND ended_at IS NULL

-- name: insert_user
INSERT INTO users (email, username, display_name, password_hash) VALUES ($1, $2, $3, $4)
RETURNING id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at, email,
    is_admin

-- name: account_by_email
SELECT id, email, email_verified_at IS NOT NULL AS verified
FROM users WHERE lower(email) = lower($1)

-- name: login_by_email
SELECT id, password_hash, email_verified_at IS NOT NULL AS verified, deactivated_at IS NOT NULL AS deactivated
FROM users WHERE lower(email) = lower($1)

-- name: login_by_username
SELECT id, password_hash, email_verified_at IS NOT NULL AS verified, deactivated_at IS NOT NULL AS deactivated
FROM users WHERE lower(username) = lower($1)

-- name: set_password
UPDATE users SET password_hash = $2, email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1

-- name: mark_verified
UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1
RETURNING id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at, email,
    is_admin

-- name: insert_email_token
INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))

-- name: void_email_tokens
UPDATE email_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL

-- name: email_token_state
SELECT user_id, used_at IS NOT NULL AS used, expires_at <= now() AS expired
FROM email_tokens WHERE token_hash = $1 AND purpose = $2

-- name: use_email_token
-- Conditional, so of two concurrent uses exactly one gets the row back.
UPDATE email_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING user_id

-- name: insert_session
INSERT INTO sessions (user_id, user_agent) VALUES ($1, $2) RETURNING id

-- name: insert_refresh_token
INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))

-- name: refresh_token_for_update
-- The row lock serialises two refreshes with the same token: the second waits, then sees it spent.
SELECT r.session_id, s.user_id, r.spent_at IS NOT NULL AS spent, r.expires_at <= now() AS expired,
       s.ended_at IS NOT NULL AS ended
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
WHERE r.token_hash = $1
FOR UPDATE OF r

-- name: spend_refresh_token
UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = $1

-- name: touch_session
UPDATE sessions SET last_used_at = now(), user_agent = $2 WHERE id = $1

-- name: session_of_refresh_token
SELECT s.id, s.user_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1

-- name: session_owner
SELECT user_id FROM sessions WHERE id = $1

-- name: end_session
UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE id = $1 AND ended_at IS NULL RETURNING id

-- name: end_user_sessions
UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE user_id = $1 AND ended_at IS NULL RETURNING id

-- name: list_sessions
-- Live sessions, newest first, after the keyset cursor $2 (a session id).
SELECT id, created_at, last_used_at, user_agent FROM sessions
WHERE user_id = $1 AND ended_at IS NULL AND id < $2
ORDER BY id DESC
LIMIT $3
