-- Server administration and account closure.
--
-- is_admin is set only by the CLI (`messenger admin grant`). A deactivated account keeps its
-- data but cannot log in (its sessions end when it is deactivated). A deleted account is
-- erased: email, username and password go (NULL), so the address and the name can be taken
-- again; the row stays because its messages stay in their chats, shown from "Deleted account".
ALTER TABLE users
    ADD COLUMN is_admin            boolean NOT NULL DEFAULT false,
    ADD COLUMN deactivated_at      timestamptz,
    ADD COLUMN deactivation_reason text,
    ADD COLUMN deleted_at          timestamptz,
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN username DROP NOT NULL,
    ALTER COLUMN password_hash DROP NOT NULL;

-- The admin user list: newest account first (keyset on id).
CREATE INDEX users_email_prefix ON users (lower(email) text_pattern_ops);
-- Stats: active users (sessions used in the last day).
CREATE INDEX sessions_last_used ON sessions (last_used_at);
-- Stats: messages of the last day.
CREATE INDEX messages_created_at ON messages (created_at);
