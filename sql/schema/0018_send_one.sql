-- A batch of one message, cheaper: at about a thousand messages a second a batch holds one to
-- three messages, so the cost of one call is the database's cost per message. Counted with
-- `python -m bench.sendcount` (instructions per one-message send, bench/README.md "Send path").
--
-- send_messages' one-request path (0015) still took its arguments as seventeen one-element
-- arrays (each decoded, each element read by subscript) and ran under the function's
-- `SET plan_cache_mode`, which saves and restores the setting on every call. send_message
-- takes the same request as scalars and has no SET clause: its statements are simple index
-- lookups and writes, whose generic plan PostgreSQL picks by itself after the first calls.
-- It also asks who could be notified in the statement that reads membership and the
-- idempotency key (one statement fewer), and returns its one row without a result set.
--
-- The steps, their order and the outcomes are send_messages' (0015): lock the chat row (gap-free
-- seq), then membership, idempotency, the channel rule and the caller's checks in one statement
-- with a fresh snapshot, then the insert, the chat and read-marker updates, and the event
-- append last (the event_stream row lock orders positions by commit, 0002).
CREATE FUNCTION send_message(
    p_chat bigint, p_sender bigint, p_key text, p_text text, p_reply bigint, p_checked boolean,
    p_mentions bigint[], p_search text,
    p_fwd_sender bigint, p_fwd_name text, p_fwd_chat bigint, p_fwd_message bigint, p_fwd_at timestamptz,
    p_head bytea, p_after_id bytea, p_after_seq bytea, p_tail bytea,
    OUT outcome text, OUT id bigint, OUT seq bigint, OUT created_at timestamptz, OUT pos bigint,
    OUT payload bytea, OUT notify boolean
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_kind text;
    v_last bigint;
    v_role text;
    v_existing bigint;
    v_notify boolean;
    v_id bigint;
    v_at timestamptz;
    v_pos bigint;
    v_payload bytea;
BEGIN
    SELECT c.kind, c.last_seq INTO v_kind, v_last FROM chats c WHERE c.id = p_chat FOR UPDATE;
    -- After the lock, in one statement (a fresh snapshot). notify: whether
    -- notification_candidates (sql/notifications.sql) could find anyone, as in send_messages.
    SELECT (SELECT cm.role FROM chat_members cm WHERE cm.chat_id = p_chat AND cm.user_id = p_sender),
           (SELECT msg.id FROM messages msg
            WHERE msg.chat_id = p_chat AND msg.sender_id = p_sender AND msg.client_msg_id = p_key),
           p_mentions <> '{}' OR v_kind = 'direct' OR EXISTS (
               SELECT FROM chat_settings s WHERE s.chat_id = p_chat AND s.notify_all AND s.user_id <> p_sender)
    INTO v_role, v_existing, v_notify;
    outcome := CASE WHEN v_role IS NULL THEN 'not_found'
                    WHEN v_existing IS NOT NULL THEN 'existing'
                    WHEN v_kind = 'channel' AND v_role = 'member' THEN 'read_only_channel'
                    WHEN p_checked THEN 'checked'
                    ELSE 'created' END;
    IF outcome <> 'created' THEN
        id := v_existing;
        RETURN;
    END IF;
    INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
                          fwd_sender_id, fwd_sender_name, fwd_chat_id, fwd_message_id, fwd_created_at, search)
    VALUES (p_chat, v_last + 1, p_sender, p_key, p_text, p_reply, p_mentions,
            p_fwd_sender, p_fwd_name, p_fwd_chat, p_fwd_message, p_fwd_at, p_search::tsvector)
    RETURNING messages.id, messages.created_at INTO v_id, v_at;
    UPDATE chats SET last_seq = v_last + 1, last_activity = now() WHERE chats.id = p_chat;
    UPDATE chat_members SET last_read_seq = greatest(chat_members.last_read_seq, v_last + 1)
    WHERE chat_members.chat_id = p_chat AND chat_members.user_id = p_sender;
    v_payload := p_head || convert_to(v_id::text, 'UTF8') || p_after_id || convert_to((v_last + 1)::text, 'UTF8')
                 || p_after_seq || convert_to(json_instant(now()), 'UTF8') || p_tail;
    -- Last: the event_stream row lock, held until commit, orders positions by commit (0002).
    UPDATE event_stream SET pos = event_stream.pos + 1 WHERE event_stream.id = 1 RETURNING event_stream.pos INTO v_pos;
    INSERT INTO events (pos, chat_id, type, payload, message_id)
    VALUES (v_pos, p_chat, 'receive_message', v_payload, v_id);
    id := v_id;
    seq := v_last + 1;
    created_at := v_at;
    pos := v_pos;
    payload := v_payload;
    notify := v_notify;
END
$$;
