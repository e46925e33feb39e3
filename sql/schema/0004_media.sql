-- Media: uploaded files. The bytes live in the media store (S3 or MESSENGER_DATA_DIR/media/)
-- under `storage_key`, a random name; the client's filename is only ever data, never a path.
--
-- Lifecycle: 'pending' from POST /v1/media until POST /v1/media/{id}/complete verified the
-- stored object (size, sniffed type, sha256), then 'ready'. Only ready media can be attached
-- to messages or become an avatar; the cleanup job deletes media left pending, or ready but
-- unused, for longer than MEDIA_ORPHAN_TTL.

CREATE TABLE media (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    storage_key  text NOT NULL UNIQUE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size > 0),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
    sha256       text,
    width        integer,
    height       integer,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX media_owner ON media (owner_id);
-- The cleanup job scans by age.
CREATE INDEX media_created_at ON media (created_at);

-- Which messages carry which media. A medium is visible to its uploader and to the current
-- members of every chat holding a live (not deleted) message that carries it. Deleting a
-- chat cascades through its messages to these rows, which leaves the media to the cleanup job.
CREATE TABLE message_attachments (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   smallint NOT NULL,
    media_id   bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX message_attachments_media ON message_attachments (media_id);

-- Avatars pin their media against cleanup and serve avatar_url lookups.
CREATE INDEX users_avatar_media ON users (avatar_media_id) WHERE avatar_media_id IS NOT NULL;

-- The `avatar_url` of a user object, for every query that selects users: a stable path on this
-- server, usable without a token, that redirects to a short-lived download URL. It is relative
-- (resolve it against the API's base URL) so it stays right behind any proxy or PUBLIC_URL.
CREATE FUNCTION media_avatar_url(media_id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT '/v1/media/' || media_id || '/avatar' $$;
