-- A batch of sends in one statement: `send_messages` does, in one call (so one round trip and,
-- run outside an explicit transaction, its own commit), what messages.send_batch used to do in
-- five statements between BEGIN and COMMIT: lock the chats, check membership and roles, find
-- earlier sends with the same idempotency key, insert the messages, move each chat's last_seq
-- and each sender's read marker, and append the receive_message events, last.
--
-- It is PL/pgSQL rather than one SQL statement for one reason: the chats must be locked
-- BEFORE membership and idempotency are read. A statement sees one snapshot taken when it
-- starts, so a concurrent send of the same key that committed while we waited for the lock
-- would be invisible to it (and fail the unique index). Each statement of a VOLATILE function
-- takes a fresh snapshot under READ COMMITTED, so the second one sees every commit before it.
--
-- The events' payloads are msgspec's JSON, made in Python before the call (messenger/messages.py)
-- except for the three values only the insert knows: the message id, its seq and created_at.
-- Python sends each payload cut at those three places (head, after_id, after_seq, tail) and the
-- function splices the values in; `json_instant` writes a timestamp exactly as msgspec does.

CREATE FUNCTION json_instant(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- RFC 3339 in UTC, microseconds only when there are any: msgspec's encoding of a datetime.
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', ts)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(ts AT TIME ZONE 'UTC', '.US') END
        || 'Z'
$$;

-- One row per request, in request order. outcome:
--   created            a new message (id, seq, created_at, pos, payload are set)
--   repeat             an earlier request of this batch with the same key created it
--   existing           an earlier send with this key (id is set; nothing else was written)
--   not_found          the sender is not a member of the chat (or there is no chat)
--   read_only_channel  a channel member (neither owner nor admin) tried to post
--   checked            p_checked was true: the caller's own check before the call failed
-- The order of the checks is the contract's (messages.send_batch): membership, then
-- idempotency, then the channel rule, then the caller's checks (reply target, forward).
CREATE FUNCTION send_messages(
    p_chat bigint[], p_sender bigint[], p_key text[], p_text text[], p_reply bigint[],
    p_checked boolean[], p_mentions text[], p_search text[],
    p_fwd_sender bigint[], p_fwd_name text[], p_fwd_chat bigint[], p_fwd_message bigint[],
    p_fwd_at timestamptz[],
    p_head bytea[], p_after_id bytea[], p_after_seq bytea[], p_tail bytea[]
) RETURNS TABLE (ord integer, outcome text, id bigint, seq bigint, created_at timestamptz, pos bigint,
                 payload bytea)
LANGUAGE plpgsql VOLATILE
-- One plan per connection, made once: with custom plans (the default for the first calls, and
-- for good when they look cheaper) PostgreSQL plans the statement below on every call, which
-- doubled the database CPU of a one-message batch. The per-row lookups (OFFSET 0 below) keep
-- the generic plan good whatever the tables' sizes.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    instant bytea := convert_to(json_instant(now()), 'UTF8');
BEGIN
    -- Id order: no deadlock between batches; event_stream comes last, in the statement below.
    PERFORM 1 FROM chats c WHERE c.id = ANY (p_chat) ORDER BY c.id FOR UPDATE;

    RETURN QUERY
    WITH r AS (
        SELECT *
        FROM unnest(p_chat, p_sender, p_key, p_text, p_reply, p_checked, p_mentions, p_search,
                    p_fwd_sender, p_fwd_name, p_fwd_chat, p_fwd_message, p_fwd_at,
                    p_head, p_after_id, p_after_seq, p_tail)
             WITH ORDINALITY AS r (chat_id, sender_id, client_msg_id, text, reply_to_id, checked, mentions,
                                   search, fwd_sender_id, fwd_sender_name, fwd_chat_id, fwd_message_id,
                                   fwd_created_at, head, after_id, after_seq, tail, ord)
    ), judged AS (
        SELECT r.*, c.last_seq, x.id AS existing_id,
               CASE WHEN m.role IS NULL THEN 'not_found'
                    WHEN x.id IS NOT NULL THEN 'existing'
                    WHEN c.kind = 'channel' AND m.role = 'member' THEN 'read_only_channel'
                    WHEN r.checked THEN 'checked'
                    ELSE 'created' END AS outcome
        -- One index probe per request and table (OFFSET 0 keeps each a per-row lookup): the
        -- function's plan is made once per connection, often while the tables are still small,
        -- and a hash join over a scan of messages would stay in it as the table grows.
        FROM r
        LEFT JOIN LATERAL (
            SELECT ch.kind, ch.last_seq FROM chats ch WHERE ch.id = r.chat_id OFFSET 0
        ) c ON true
        LEFT JOIN LATERAL (
            SELECT cm.role FROM chat_members cm WHERE cm.chat_id = r.chat_id AND cm.user_id = r.sender_id OFFSET 0
        ) m ON true
        LEFT JOIN LATERAL (
            SELECT msg.id FROM messages msg
            WHERE msg.chat_id = r.chat_id AND msg.sender_id = r.sender_id AND msg.client_msg_id = r.client_msg_id
            OFFSET 0
        ) x ON true
    ), valid AS (
        -- The first valid request of a key creates the message; later ones repeat it.
        SELECT j.*, row_number() OVER (PARTITION BY j.chat_id, j.sender_id, j.client_msg_id ORDER BY j.ord) AS nth
        FROM judged j WHERE j.outcome = 'created'
    ), creating AS (
        SELECT v.*, v.last_seq + row_number() OVER (PARTITION BY v.chat_id ORDER BY v.ord) AS new_seq,
               row_number() OVER (ORDER BY v.ord) AS k
        FROM valid v WHERE v.nth = 1
    ), inserted AS (
        INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
                              fwd_sender_id, fwd_sender_name, fwd_chat_id, fwd_message_id, fwd_created_at, search)
        SELECT c.chat_id, c.new_seq, c.sender_id, c.client_msg_id, c.text, c.reply_to_id, c.mentions::bigint[],
               c.fwd_sender_id, c.fwd_sender_name, c.fwd_chat_id, c.fwd_message_id, c.fwd_created_at,
               c.search::tsvector
        FROM creating c ORDER BY c.k
        RETURNING messages.id, messages.chat_id, messages.seq, messages.created_at
    ), bumped AS (
        UPDATE chats SET last_seq = b.seq, last_activity = now()
        FROM (SELECT c.chat_id, max(c.new_seq) AS seq FROM creating c GROUP BY c.chat_id) b
        WHERE chats.id = b.chat_id
    ), marked AS (
        -- A sender has read everything up to their own latest message.
        UPDATE chat_members SET last_read_seq = greatest(chat_members.last_read_seq, b.seq)
        FROM (SELECT c.chat_id, c.sender_id, max(c.new_seq) AS seq FROM creating c GROUP BY 1, 2) b
        WHERE chat_members.chat_id = b.chat_id AND chat_members.user_id = b.sender_id
    ), made AS (
        SELECT c.ord, c.k, i.id, i.chat_id, i.seq, i.created_at,
               c.head || convert_to(i.id::text, 'UTF8') || c.after_id || convert_to(i.seq::text, 'UTF8')
                   || c.after_seq || instant || c.tail AS payload
        FROM creating c JOIN inserted i ON i.chat_id = c.chat_id AND i.seq = c.new_seq
    ), alloc AS (
        -- The event_stream row lock, held until commit, orders positions by commit (0002).
        UPDATE event_stream SET pos = event_stream.pos + (SELECT count(*) FROM made)
        WHERE event_stream.id = 1 AND EXISTS (SELECT FROM made)
        RETURNING event_stream.pos - (SELECT count(*) FROM made) AS base
    ), appended AS (
        INSERT INTO events (pos, chat_id, type, payload, message_id)
        SELECT a.base + m.k, m.chat_id, 'receive_message', m.payload, m.id
        FROM made m, alloc a
    )
    SELECT j.ord::integer,
           CASE WHEN v.nth > 1 THEN 'repeat' ELSE j.outcome END,
           coalesce(m.id, j.existing_id), m.seq, m.created_at, a.base + m.k, m.payload
    FROM judged j
    LEFT JOIN valid v ON v.ord = j.ord
    LEFT JOIN made m ON m.ord = j.ord
    LEFT JOIN alloc a ON true
    ORDER BY j.ord;
END
$$;
