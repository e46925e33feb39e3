-- The send batch, cheaper per call. At low rates a batch holds one or two messages, so the cost
-- of one call is the database's cost per message. Counted with `python -m bench.sendcount`
-- (instructions per one-message send, callgrind, bench/README.md "Send path"): 2.18 million
-- with 0012's function, of which the writes (heap, indexes, foreign-key checks, WAL) are about
-- a fifth; most of the rest was starting and ending the executor of its one large statement.
--
-- - A batch of one request takes a path of simple statements (about a third fewer
--   instructions); larger batches keep the set-based statement.
-- - send_messages also says, per created message, whether anyone could be notified of it
--   (`notify`), so a batch nobody can be notified of enqueues no notification job and runs no
--   notification query (messages.send_batch).
--
-- The return type changes, so the function is dropped and created again; see 0012 for why it
-- is PL/pgSQL and how the payload is spliced.
DROP FUNCTION send_messages(bigint[], bigint[], text[], text[], bigint[], boolean[], text[], text[], bigint[], text[],
                            bigint[], bigint[], timestamptz[], bytea[], bytea[], bytea[], bytea[]);

-- One row per request, in request order. outcome:
--   created            a new message (id, seq, created_at, pos, payload, notify are set)
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
                 payload bytea, notify boolean)
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
    v_kind text;
    v_last bigint;
    v_role text;
    v_existing bigint;
    v_outcome text;
    v_id bigint;
    v_at timestamptz;
    v_pos bigint;
    v_payload bytea;
BEGIN
    -- One request (most batches below a few hundred messages a second): the same steps as the
    -- statement below, one simple statement each. The statement's plan has some sixty nodes and
    -- five writing CTEs, and starting and ending that executor cost more than the writes.
    IF cardinality(p_chat) = 1 THEN
        SELECT c.kind, c.last_seq INTO v_kind, v_last FROM chats c WHERE c.id = p_chat[1] FOR UPDATE;
        -- Both after the lock, in one statement (a fresh snapshot, as below).
        SELECT (SELECT cm.role FROM chat_members cm WHERE cm.chat_id = p_chat[1] AND cm.user_id = p_sender[1]),
               (SELECT msg.id FROM messages msg
                WHERE msg.chat_id = p_chat[1] AND msg.sender_id = p_sender[1] AND msg.client_msg_id = p_key[1])
        INTO v_role, v_existing;
        v_outcome := CASE WHEN v_role IS NULL THEN 'not_found'
                          WHEN v_existing IS NOT NULL THEN 'existing'
                          WHEN v_kind = 'channel' AND v_role = 'member' THEN 'read_only_channel'
                          WHEN p_checked[1] THEN 'checked'
                          ELSE 'created' END;
        IF v_outcome <> 'created' THEN
            RETURN QUERY SELECT 1, v_outcome, v_existing, NULL::bigint, NULL::timestamptz, NULL::bigint, NULL::bytea,
                                NULL::boolean;
            RETURN;
        END IF;
        INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
                              fwd_sender_id, fwd_sender_name, fwd_chat_id, fwd_message_id, fwd_created_at, search)
        VALUES (p_chat[1], v_last + 1, p_sender[1], p_key[1], p_text[1], p_reply[1], p_mentions[1]::bigint[],
                p_fwd_sender[1], p_fwd_name[1], p_fwd_chat[1], p_fwd_message[1], p_fwd_at[1], p_search[1]::tsvector)
        RETURNING messages.id, messages.created_at INTO v_id, v_at;
        UPDATE chats SET last_seq = v_last + 1, last_activity = now() WHERE chats.id = p_chat[1];
        UPDATE chat_members SET last_read_seq = greatest(chat_members.last_read_seq, v_last + 1)
        WHERE chat_members.chat_id = p_chat[1] AND chat_members.user_id = p_sender[1];
        v_payload := p_head[1] || convert_to(v_id::text, 'UTF8') || p_after_id[1] || convert_to((v_last + 1)::text, 'UTF8')
                     || p_after_seq[1] || instant || p_tail[1];
        -- Last: the event_stream row lock, held until commit, orders positions by commit (0002).
        UPDATE event_stream SET pos = event_stream.pos + 1 WHERE event_stream.id = 1 RETURNING event_stream.pos INTO v_pos;
        INSERT INTO events (pos, chat_id, type, payload, message_id)
        VALUES (v_pos, p_chat[1], 'receive_message', v_payload, v_id);
        -- notify: as in the statement below.
        RETURN QUERY SELECT 1, 'created'::text, v_id, v_last + 1, v_at, v_pos, v_payload,
            (p_mentions[1] <> '{}' OR v_kind = 'direct' OR EXISTS (
                SELECT FROM chat_settings s WHERE s.chat_id = p_chat[1] AND s.notify_all AND s.user_id <> p_sender[1]));
        RETURN;
    END IF;
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
        SELECT r.*, c.kind AS chat_kind, c.last_seq, x.id AS existing_id,
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
                   || c.after_seq || instant || c.tail AS payload,
               -- Whether notification_candidates (sql/notifications.sql) could find anyone: a
               -- mention, the peer of a direct chat, or a member other than the sender who
               -- asked for every message. Never false when it would find someone.
               (c.mentions <> '{}' OR c.chat_kind = 'direct' OR EXISTS (
                   SELECT FROM chat_settings s
                   WHERE s.chat_id = c.chat_id AND s.notify_all AND s.user_id <> c.sender_id
               )) AS notify
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
           coalesce(m.id, j.existing_id), m.seq, m.created_at, a.base + m.k, m.payload, m.notify
    FROM judged j
    LEFT JOIN valid v ON v.ord = j.ord
    LEFT JOIN made m ON m.ord = j.ord
    LEFT JOIN alloc a ON true
    ORDER BY j.ord;
END
$$;
