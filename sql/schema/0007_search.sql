-- Message search (GET /v1/search/messages) and the chat-list filter (GET /v1/chats?q=).
--
-- The index is a tsvector built in Python at write time (messenger/search.py) and cast from its
-- text form, so no database locale or text-search parser decides what a word is: accents are
-- folded, case is folded, and unspaced scripts (Chinese, Japanese, Thai, ...) become overlapping
-- bigrams the same way on every PostgreSQL. NULL for deleted messages, so they never match; an
-- edit rewrites it, so only the current text matches.
ALTER TABLE messages ADD COLUMN search tsvector;

-- The chat-list filter folds accents of titles and names in SQL (see chats_for_user). A trusted
-- extension: a database owner without superuser may create it.
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Messages sent before this migration: PostgreSQL's own words (no CJK bigrams) until they are
-- edited; good enough for Latin, Cyrillic, Greek, Arabic and Hebrew text.
UPDATE messages SET search = to_tsvector('simple', unaccent(text)) WHERE text IS NOT NULL;
CREATE INDEX messages_search ON messages USING gin (search);

-- Which messages a membership span covers, in the chat's seq terms: seq in (from_seq, to_seq].
-- Spans are opened and closed while the chat row is locked (every membership change and every
-- send lock it), so the chat's last_seq at that moment is exactly the border between messages
-- sent before and after. A trigger fills them, so every code path that opens or closes a span
-- keeps them right without knowing about search.
ALTER TABLE member_spans ADD COLUMN from_seq bigint, ADD COLUMN to_seq bigint;

CREATE FUNCTION member_spans_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.from_seq := coalesce((SELECT last_seq FROM chats WHERE id = NEW.chat_id), 0);
    ELSIF NEW.to_pos IS NOT NULL AND OLD.to_pos IS NULL THEN
        NEW.to_seq := coalesce((SELECT last_seq FROM chats WHERE id = NEW.chat_id), OLD.from_seq);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER member_spans_seq BEFORE INSERT OR UPDATE OF to_pos ON member_spans
FOR EACH ROW EXECUTE FUNCTION member_spans_seq();

-- Spans that exist already: the seq of the last message event at or before each border. Where
-- retention has trimmed those events the border is unknown: an open span then covers the
-- whole chat (the member can page through it anyway), a closed one covers nothing.
UPDATE member_spans s SET
    from_seq = coalesce((
        SELECT max((convert_from(e.payload, 'UTF8')::jsonb #>> '{message,seq}')::bigint)
        FROM events e WHERE e.chat_id = s.chat_id AND e.type = 'receive_message' AND e.pos <= s.from_pos
    ), 0),
    to_seq = CASE WHEN s.to_pos IS NULL THEN NULL ELSE coalesce((
        SELECT max((convert_from(e.payload, 'UTF8')::jsonb #>> '{message,seq}')::bigint)
        FROM events e WHERE e.chat_id = s.chat_id AND e.type = 'receive_message' AND e.pos <= s.to_pos
    ), 0) END;
ALTER TABLE member_spans ALTER COLUMN from_seq SET NOT NULL;
