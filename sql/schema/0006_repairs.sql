-- Repairs of databases migrated by earlier releases.

-- 0004_media.sql gained `media_avatar_url` after some databases had already applied it, so
-- those lack the function. CREATE OR REPLACE makes this a no-op where it exists.
CREATE OR REPLACE FUNCTION media_avatar_url(media_id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT '/v1/media/' || media_id || '/avatar' $$;

-- In a direct chat neither member has power over the other: the creator used to be `owner`.
UPDATE chat_members SET role = 'member'
WHERE role <> 'member' AND chat_id IN (SELECT id FROM chats WHERE kind = 'direct');
