-- Periodic cleanup run by the worker's cron jobs (in-process without Redis).

-- name: delete_expired_refresh_tokens
DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'

-- name: delete_expired_email_tokens
DELETE FROM email_tokens WHERE expires_at < now() - interval '1 day'

-- name: end_idle_sessions
-- A session unused for longer than the refresh-token lifetime holds no usable refresh token:
-- every login or refresh sets last_used_at and issues a token that lives exactly that long
-- (access-token use also moves last_used_at, by at most one access-token lifetime).
UPDATE sessions SET ended_at = now(), end_reason = 'expired'
WHERE ended_at IS NULL AND last_used_at < now() - make_interval(secs => $1)
