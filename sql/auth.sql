-- Accounts: sessions, refresh tokens, email tokens.

-- name: session_is_live
SELECT user_id FROM sessions WHERE id = $1 AND ended_at IS NULL
