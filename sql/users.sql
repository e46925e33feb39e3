-- Users: profiles and lookup. `avatar_url` comes from media_avatar_url() (sql/schema/0004_media.sql).

-- name: user_public
SELECT id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at
FROM users WHERE id = $1

-- name: users_public_by_ids
SELECT id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at
FROM users WHERE id = ANY($1::bigint[])

-- name: user_me
SELECT id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at, email,
    is_admin
FROM users WHERE id = $1

-- name: update_profile
-- NULL leaves a field as it is (the API passes NULL for fields absent from the PATCH body);
-- the avatar is set (to $5, NULL clearing it) only when $4 says the body had avatar_media_id.
UPDATE users SET display_name = coalesce($2, display_name), bio = coalesce($3, bio),
    avatar_media_id = CASE WHEN $4::boolean THEN $5::bigint ELSE avatar_media_id END
WHERE id = $1
RETURNING id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at, email,
    is_admin

-- name: search_users
-- Verified, active users whose username or display name starts with $1 (case-insensitive), by username
-- (byte order, the same on every server whatever its locale) after the cursor $2. The ~>=~ / ~<~
-- range is what the text_pattern_ops indexes serve (also in a generic plan, unlike LIKE with a
-- parameter, and with no wildcard to escape); chr(1114111) is the last code point, so the range
-- is the prefix's, and starts_with() makes it exact.
SELECT id, username, display_name, bio, media_avatar_url(avatar_media_id) AS avatar_url, created_at
FROM users
WHERE email_verified_at IS NOT NULL AND deactivated_at IS NULL AND deleted_at IS NULL
  AND lower(username) COLLATE "C" > $2
  AND (
        (lower(username) ~>=~ lower($1) AND lower(username) ~<~ (lower($1) || chr(1114111))
         AND starts_with(lower(username), lower($1)))
     OR (lower(display_name) ~>=~ lower($1) AND lower(display_name) ~<~ (lower($1) || chr(1114111))
         AND starts_with(lower(display_name), lower($1)))
  )
ORDER BY lower(username) COLLATE "C"
LIMIT $3

-- name: users_presence
-- The users among $2 who share a chat with $1, with their last-seen time and whether it may be
-- shown (theirs and the viewer's switch: hiding yours hides everyone's from you).
SELECT u.id, u.last_seen_at,
       coalesce(us.show_last_seen, true) AND coalesce(vs.show_last_seen, true) AS shown
FROM users u
LEFT JOIN user_settings us ON us.user_id = u.id
LEFT JOIN user_settings vs ON vs.user_id = $1
WHERE u.id = ANY($2::bigint[])
  AND EXISTS (
        SELECT 1 FROM chat_members t
        JOIN chat_members v ON v.chat_id = t.chat_id AND v.user_id = $1
        WHERE t.user_id = u.id
  )
ORDER BY u.id
