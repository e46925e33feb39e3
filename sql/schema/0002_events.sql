-- The event stream: every persisted change a client must see (new/edited/deleted message,
-- chat updated, member added/removed), in one totally ordered log.
--
-- Positions are allocated from the single-row counter `event_stream` as the LAST statement of
-- the writing transaction. The row lock is held until commit, so positions become visible in
-- commit order: once a reader sees position p, every position below p is already visible.
-- That is what lets a cursor be a single integer and resume be "everything after p" with no
-- gap and no duplicate. The lock is held only for the commit itself; the group-commit writer
-- amortises it over a whole batch of messages.

CREATE TABLE event_stream (
    id          smallint PRIMARY KEY CHECK (id = 1),
    pos         bigint NOT NULL,
    -- Everything at or below trimmed_pos has been deleted by retention: older cursors get 410.
    trimmed_pos bigint NOT NULL DEFAULT 0
);
INSERT INTO event_stream (id, pos) VALUES (1, 0);

CREATE TABLE events (
    pos        bigint PRIMARY KEY,
    chat_id    bigint NOT NULL,
    type       text NOT NULL,
    -- The frame's fields except `type` and `cursor`, as a JSON object (msgspec-encoded once).
    payload    bytea NOT NULL,
    -- For member_added / member_removed: the member concerned.
    user_id    bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_chat_pos ON events (chat_id, pos);
CREATE INDEX events_created_at ON events (created_at);

-- Which part of a chat's stream each user may see: (from_pos, to_pos], to_pos NULL while the
-- user is a member. A user removed and re-added has two spans; nothing in between is visible.
CREATE TABLE member_spans (
    chat_id  bigint NOT NULL,
    user_id  bigint NOT NULL,
    from_pos bigint NOT NULL,
    to_pos   bigint,
    PRIMARY KEY (user_id, chat_id, from_pos)
);
CREATE UNIQUE INDEX member_spans_open ON member_spans (chat_id, user_id) WHERE to_pos IS NULL;
