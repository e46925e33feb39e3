-- Periodic cleanup run by the worker's cron jobs.

-- name: delete_expired_refresh_tokens
DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'

-- name: delete_expired_email_tokens
DELETE FROM email_tokens WHERE expires_at < now() - interval '1 day'
