-- Deletion is final, edits supersede: the stored events that carry a message can be found by
-- message and re-rendered from its current row (messenger/messages.py: rerender_events), so
-- redaction touches a few rows, never the whole log.
--
-- message_id: the message an event shows (receive_message, message_edited) or the chat's
--   last_message it embeds (chat_updated); NULL for the rest.
-- revised_pos: the position of the edit that last re-rendered the event. A reader whose span
--   ended before it never learns of that edit: they get `redacted` instead of `payload`.
-- redacted: the event with its message in the redacted form (kept only for edited ones).
ALTER TABLE events
    ADD COLUMN message_id  bigint,
    ADD COLUMN revised_pos bigint,
    ADD COLUMN redacted    bytea;

UPDATE events SET message_id = (convert_from(payload, 'UTF8')::jsonb -> 'message' ->> 'id')::bigint
WHERE type IN ('receive_message', 'message_edited');
UPDATE events SET message_id = (convert_from(payload, 'UTF8')::jsonb -> 'chat' -> 'last_message' ->> 'id')::bigint
WHERE type = 'chat_updated';

CREATE INDEX events_message ON events (message_id) WHERE message_id IS NOT NULL;

-- Events persisted before this migration still carry deleted or superseded text: render
-- them from the current rows once (messages and chat_updated's last_message alike).
WITH cur AS (
    SELECT e.pos,
           CASE WHEN e.type = 'chat_updated' THEN '{chat,last_message}' ELSE '{message}' END::text[] AS path,
           m.deleted_at IS NOT NULL AS deleted, m.text, m.mentions, m.edited_at
    FROM events e JOIN messages m ON m.id = e.message_id
    WHERE m.deleted_at IS NOT NULL OR m.edited_at IS NOT NULL
), patched AS (
    SELECT cur.pos, cur.path,
           jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(
               convert_from(e.payload, 'UTF8')::jsonb,
               cur.path || '{text}'::text[], coalesce(to_jsonb(cur.text), 'null'::jsonb)),
               cur.path || '{mentions}'::text[], to_jsonb(cur.mentions)),
               cur.path || '{edited_at}'::text[], coalesce(to_jsonb(to_char(cur.edited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'null'::jsonb)),
               cur.path || '{deleted}'::text[], to_jsonb(cur.deleted)),
               cur.path || '{attachments}'::text[],
               CASE WHEN cur.deleted THEN '[]'::jsonb
                    ELSE convert_from(e.payload, 'UTF8')::jsonb #> (cur.path || '{attachments}'::text[]) END) AS doc
    FROM cur JOIN events e ON e.pos = cur.pos
)
UPDATE events e SET payload = convert_to(patched.doc::text, 'UTF8')
FROM patched WHERE e.pos = patched.pos;
