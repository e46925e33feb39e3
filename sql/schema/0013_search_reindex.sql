-- `messenger search reindex`: rebuild the search index of messages that migration 0007 indexed
-- with PostgreSQL's own parser (no CJK bigrams, the database's idea of a word) the way the
-- send path does (messenger/searchtext.py). One row: how far the command got, so an
-- interrupted run resumes there. Messages with an id above `upto_id` were sent after this
-- migration, through the send path, and need nothing.
CREATE TABLE search_reindex (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    upto_id     bigint NOT NULL,
    next_id     bigint NOT NULL DEFAULT 0,
    finished_at timestamptz
);
INSERT INTO search_reindex (upto_id) SELECT coalesce(max(id), 0) FROM messages;
