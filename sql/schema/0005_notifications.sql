-- Notifications: per-user settings, per-chat settings, notifications and batched email digests.

-- Absent row = defaults (every user starts with them without a write at registration).
CREATE TABLE user_settings (
    user_id               bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email_mentions        boolean NOT NULL DEFAULT true,
    email_direct_messages boolean NOT NULL DEFAULT true,
    email_group_messages  boolean NOT NULL DEFAULT false
);

-- A member's settings for one chat. Keyed on the membership, so leaving a chat (the
-- chat_members row goes away) forgets them and rejoining starts from the defaults.
CREATE TABLE chat_settings (
    chat_id    bigint NOT NULL,
    user_id    bigint NOT NULL,
    muted      boolean NOT NULL DEFAULT false,
    notify_all boolean NOT NULL DEFAULT false,
    PRIMARY KEY (chat_id, user_id),
    FOREIGN KEY (chat_id, user_id) REFERENCES chat_members (chat_id, user_id) ON DELETE CASCADE
);
-- The notification job finds who asked for every message of a group.
CREATE INDEX chat_settings_notify_all ON chat_settings (chat_id) WHERE notify_all;

-- One email per claimed batch of notifications. The row is written in the same transaction
-- that claims the notifications (notifications.digest_id); the mail's Message-ID is derived
-- from its id and `sent_at` is set after the SMTP server accepted it, so a worker killed in
-- between retries the same mail and never builds a second one for the same notifications.
CREATE TABLE digest_emails (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- created_at of the oldest notification in the digest: one digest per user and window.
    window_start    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    -- 'sent', 'read' (everything was read before the mail went out) or 'failed' (gave up).
    outcome         text CHECK (outcome IN ('sent', 'read', 'failed')),
    UNIQUE (user_id, window_start)
);
CREATE INDEX digest_emails_unsent ON digest_emails (next_attempt_at) WHERE outcome IS NULL;
CREATE INDEX digest_emails_done ON digest_emails (created_at) WHERE outcome IS NOT NULL;

CREATE TABLE notifications (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('mention', 'message')),
    chat_id    bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    -- Waiting for an email (the user was offline and allows it); a digest claiming it clears
    -- this and sets digest_id in the same statement.
    email      boolean NOT NULL DEFAULT false,
    digest_id  bigint REFERENCES digest_emails (id) ON DELETE SET NULL,
    -- A retried notification job inserts nothing twice.
    UNIQUE (user_id, message_id)
);
-- The list (keyset on id, newest first) and the unread list/count.
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;
-- The digest scan: notifications waiting for an email, oldest first.
CREATE INDEX notifications_email_due ON notifications (created_at, user_id)
    WHERE email AND read_at IS NULL;
CREATE INDEX notifications_digest ON notifications (digest_id) WHERE digest_id IS NOT NULL;
-- Retention cleanup.
CREATE INDEX notifications_created_at ON notifications (created_at);
CREATE INDEX notifications_message ON notifications (message_id);
