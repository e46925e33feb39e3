-- Message search. The caller's readable messages are their membership spans in seq terms
-- (member_spans.from_seq/to_seq, see sql/schema/0007_search.sql) of the chats they belong to now.

-- name: search_messages
-- $1 user, $2 tsquery, $3 chat_id or NULL, $4 sender_id or NULL, $5/$6 created_at bounds
-- (exclusive), $7 keyset: ids below it, $8 limit. Newest (highest id) first, with what a
-- result shows of its chat (a direct chat has no title, so the peer's name stands in).
-- The planner picks per query: for selective queries the GIN index (messages_search) finds the
-- few candidates and the spans filter them; otherwise it walks the spans' messages by
-- (chat_id, seq) and tests each one's stored tsvector (see bench/README.md, "search").
WITH spans AS (
    SELECT s.chat_id, s.from_seq, coalesce(s.to_seq, 9223372036854775807) AS to_seq
    FROM member_spans s
    JOIN chat_members cm ON cm.chat_id = s.chat_id AND cm.user_id = s.user_id
    WHERE s.user_id = $1 AND ($3::bigint IS NULL OR s.chat_id = $3)
), page AS (
    SELECT m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.text, m.reply_to_id, m.mentions,
           m.created_at, m.edited_at, m.deleted_at IS NOT NULL AS deleted
    FROM spans s
    JOIN messages m ON m.chat_id = s.chat_id AND m.seq > s.from_seq AND m.seq <= s.to_seq
    WHERE m.search @@ $2::tsquery
      AND m.deleted_at IS NULL
      AND ($4::bigint IS NULL OR m.sender_id = $4)
      AND m.created_at < $5 AND m.created_at > $6
      AND m.id < $7
    ORDER BY m.id DESC
    LIMIT $8
)
SELECT page.*, c.kind AS chat_kind,
       CASE WHEN c.kind = 'direct' THEN (
           SELECT coalesce(nullif(u.display_name, ''), u.username)
           FROM chat_members pm JOIN users u ON u.id = pm.user_id
           WHERE pm.chat_id = c.id AND pm.user_id <> $1
           ORDER BY pm.user_id LIMIT 1
       ) ELSE c.title END AS chat_title
FROM page JOIN chats c ON c.id = page.chat_id
ORDER BY page.id DESC

-- name: search_reindex_state
-- How far `messenger search reindex` got: ids in (next_id, upto_id] are still to do. Locked for
-- the batch, so two runs at once take turns instead of doing the same batch twice.
SELECT upto_id, next_id, finished_at FROM search_reindex FOR UPDATE

-- name: search_reindex_batch
-- The next batch of messages to re-index, by id, with their current text (deleted ones have
-- no index and keep none).
SELECT id, text FROM messages
WHERE id > $1 AND id <= $2 AND text IS NOT NULL AND deleted_at IS NULL
ORDER BY id LIMIT $3

-- name: search_reindex_store
-- New index values ($2, tsvector literals) for messages $1 whose text is still $3: an edit
-- in between wrote the right index already and is left alone; unchanged values are not
-- rewritten. The progress moves to $4 in the same transaction. Returns the rows rewritten.
WITH stored AS (
    UPDATE messages m SET search = x.v::tsvector
    FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x (id, v, t)
    WHERE m.id = x.id AND m.text = x.t AND m.deleted_at IS NULL AND m.search IS DISTINCT FROM x.v::tsvector
    RETURNING m.id
), progress AS (
    UPDATE search_reindex SET next_id = $4,
        finished_at = CASE WHEN $4 >= upto_id THEN now() END
)
SELECT count(*) FROM stored
