-- A send no longer pays for two foreign-key checks that re-prove what it has just checked.
--
-- Each message insert ran the checks of messages.chat_id -> chats and messages.sender_id ->
-- users: per row, one query each through SPI, and for the sender a FOR KEY SHARE lock on their
-- users row (a lock written to the row and to the WAL). Counted with `python -m bench.sendcount`:
-- 64,939 of a one-message send's 1,131,528 instructions (5.7 %), the sender's check alone
-- 34,036 (bench/README.md, "What the send could still shed").
--
-- What the constraints guaranteed still holds without them, because of who writes these rows:
-- - Messages are inserted only by the sends (send_message, send_messages, and insert_messages
--   in sql/messages.sql), each in the transaction that has locked the chat row (FOR UPDATE) and
--   found the sender among its members; chat_members keeps its foreign keys to chats and users.
--   A chat deleted meanwhile leaves the lock nothing to find, and the send answers not_found.
-- - A chat's messages went with it by ON DELETE CASCADE; delete_chat (sql/chats.sql) now
--   deletes them in the same statement. Their dependants (attachments, reactions, reaction
--   counts, notifications) keep their own cascades from messages.
-- - users rows are never deleted: an erased account is anonymised and its messages stay shown
--   (messenger/erasure.py). A feature that ever deletes users rows must decide what becomes of
--   their messages first.
-- fwd_sender_id keeps its foreign key: it is checked only for forwarded copies.
ALTER TABLE messages
    DROP CONSTRAINT messages_chat_id_fkey,
    DROP CONSTRAINT messages_sender_id_fkey;
