-- Replies, reactions, pins and forwarding.

-- Pins live on the message row: "pinned" is then a column of every page query, deleting a
-- message unpins it in the same UPDATE, and the pin list is an index range.
-- Forwarded copies keep where they came from. fwd_chat_id/fwd_message_id have no foreign key:
-- the original may be deleted, or its chat; readers who are not members of fwd_chat_id (nobody,
-- once it is gone) see them as null. fwd_sender_name is the display name when forwarded.
ALTER TABLE messages
    ADD COLUMN pinned_at       timestamptz,
    ADD COLUMN fwd_sender_id   bigint REFERENCES users (id),
    ADD COLUMN fwd_sender_name text,
    ADD COLUMN fwd_chat_id     bigint,
    ADD COLUMN fwd_message_id  bigint,
    ADD COLUMN fwd_created_at  timestamptz;
-- GET pins (most recent first) and the per-chat pin limit.
CREATE INDEX messages_pins ON messages (chat_id, pinned_at DESC, id DESC) WHERE pinned_at IS NOT NULL;

-- One row per (message, user, emoji).
CREATE TABLE reactions (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, user_id, emoji)
);
-- Who reacted with one emoji (keyset on created_at, user_id).
CREATE INDEX reactions_by_emoji ON reactions (message_id, emoji, created_at, user_id);

-- The aggregate that pages read instead of counting: kept in step with `reactions` by the same
-- transaction, under the message row's lock (see messenger/reactions.py). `ord` is the order
-- of first use (the row goes with its last reaction, so a later reuse counts as new).
CREATE TABLE reaction_counts (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      text NOT NULL,
    count      integer NOT NULL CHECK (count > 0),
    ord        bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (message_id, emoji)
);
