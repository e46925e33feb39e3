-- Chats, their members and their messages.

CREATE TABLE chats (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
    title         text,
    description   text,
    -- "minid:maxid" for direct chats, NULL otherwise: the unique index makes "one direct chat
    -- per pair" hold under concurrent creation (INSERT ... ON CONFLICT DO NOTHING).
    direct_key    text UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- The last allocated message seq. Senders lock this row (FOR UPDATE), so seqs of one chat
    -- are gap-free and unique while different chats never wait for each other.
    last_seq      bigint NOT NULL DEFAULT 0,
    last_activity timestamptz NOT NULL DEFAULT now(),
    -- Kept in step by every membership change (which also locks this row), so the chat list
    -- never counts members.
    member_count  integer NOT NULL DEFAULT 0
);

CREATE TABLE chat_members (
    chat_id       bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    -- Read marker: unread_count = chats.last_seq - last_read_seq. Sending moves the sender's
    -- marker to their own message, so one's own messages are never unread.
    last_read_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
-- The chat list of a user.
CREATE INDEX chat_members_user ON chat_members (user_id, chat_id);
-- The member list (keyset on joined_at, user_id) and ownership hand-over (longest-standing).
CREATE INDEX chat_members_joined ON chat_members (chat_id, joined_at, user_id);

CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id       bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    sender_id     bigint NOT NULL REFERENCES users (id),
    client_msg_id text NOT NULL,
    -- NULL once deleted (the row stays as a tombstone so seq keeps no gaps).
    text          text,
    reply_to_id   bigint REFERENCES messages (id) ON DELETE SET NULL,
    mentions      bigint[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    edited_at     timestamptz,
    deleted_at    timestamptz
);
-- Message pages (keyset on seq) and the chat list's last message.
CREATE UNIQUE INDEX messages_chat_seq ON messages (chat_id, seq);
-- Idempotent sends.
CREATE UNIQUE INDEX messages_idempotency ON messages (chat_id, sender_id, client_msg_id);
-- ON DELETE SET NULL of reply_to_id needs to find the replies.
CREATE INDEX messages_reply_to ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
