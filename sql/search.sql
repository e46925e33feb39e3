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
