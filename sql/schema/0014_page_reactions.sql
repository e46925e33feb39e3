-- Pages read each message's reaction counts from the message row: aggregating reaction_counts
-- per message (an index scan, a JSON aggregate) made a page of 50 reacted-to messages cost
-- about twice the plain page's query (bench/README.md, "Conversation pages").
-- reaction_counts stays the source of truth; this is a copy of it as a JSON array of
-- {"emoji", "count"} in order of first use (NULL: no reactions), kept in step by a trigger in
-- the same transaction, whichever statement changes the counts (reacting, unreacting,
-- deletion). Writes to the counts already hold the message row's lock (sql/reactions.sql).
ALTER TABLE messages ADD COLUMN reactions_json text;

CREATE FUNCTION messages_reactions_json() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    message bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.message_id ELSE NEW.message_id END;
BEGIN
    UPDATE messages SET reactions_json = (
        SELECT json_agg(json_build_object('emoji', c.emoji, 'count', c.count) ORDER BY c.ord)::text
        FROM reaction_counts c WHERE c.message_id = message
    ) WHERE id = message;
    RETURN NULL;
END
$$;

CREATE TRIGGER reaction_counts_json AFTER INSERT OR UPDATE OR DELETE ON reaction_counts
FOR EACH ROW EXECUTE FUNCTION messages_reactions_json();

UPDATE messages m SET reactions_json = (
    SELECT json_agg(json_build_object('emoji', c.emoji, 'count', c.count) ORDER BY c.ord)::text
    FROM reaction_counts c WHERE c.message_id = m.id
) WHERE m.id IN (SELECT message_id FROM reaction_counts);
