-- The value rules of chats.kind, chat_members.role and event_stream.id, as domains instead of
-- table CHECK constraints: the same values are allowed, and every write of those columns is
-- checked as before.
--
-- Why: PostgreSQL checks a table's CHECK constraints on every UPDATE of any of its rows,
-- whatever the UPDATE changes, and it reads each constraint's stored expression back and
-- prepares it again in every statement that updates the table. A send updates all three
-- tables (the chat's last_seq, the sender's read marker, the event position), so that was
-- about 76,000 instructions of a one-message send (`python -m bench.sendcount`, some 6 %),
-- for columns the send never writes. A domain's rule is checked only when a value is written
-- to the column (an INSERT, or an UPDATE that sets it), from an expression kept prepared.
--
-- The columns change type without a rewrite (a domain without constraints over the same type),
-- then each domain gets its rule, which checks the stored rows once, and the table
-- constraints go.
CREATE DOMAIN chat_kind AS text;
CREATE DOMAIN member_role AS text;
CREATE DOMAIN event_stream_id AS smallint;

ALTER TABLE chats ALTER COLUMN kind TYPE chat_kind;
ALTER TABLE chat_members ALTER COLUMN role TYPE member_role;
ALTER TABLE event_stream ALTER COLUMN id TYPE event_stream_id;

ALTER DOMAIN chat_kind ADD CONSTRAINT chat_kind_check CHECK (VALUE IN ('direct', 'group', 'channel'));
ALTER DOMAIN member_role ADD CONSTRAINT member_role_check CHECK (VALUE IN ('owner', 'admin', 'member'));
-- One row: the stream's single counter (0002).
ALTER DOMAIN event_stream_id ADD CONSTRAINT event_stream_id_check CHECK (VALUE = 1);

ALTER TABLE chats DROP CONSTRAINT chats_kind_check;
ALTER TABLE chat_members DROP CONSTRAINT chat_members_role_check;
ALTER TABLE event_stream DROP CONSTRAINT event_stream_id_check;
