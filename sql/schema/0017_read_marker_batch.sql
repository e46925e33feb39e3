-- A batch of read markers in one call (messenger/realtime/readmarks.py gathers them), and so,
-- outside a transaction, one commit for the whole batch instead of one per marker.
--
-- It is a function rather than a plain statement for its plan: as a statement it was planned
-- on every call (a custom plan: the array sizes make the generic one look dearer), about 1 ms
-- of database CPU, three times the old one-marker statement whole, so a batch of one (the common
-- case at low load) cost more than before. One generic plan per connection, made once, with a
-- per-request index probe for each lookup (OFFSET 0 keeps each a per-row lookup whatever the
-- tables' sizes when the plan was made), as send_messages does (0012).
--
-- Request i is (p_chat[i], p_user[i], p_seq[i]). One row per request, in request order:
-- last_seq is null when there is no such chat or the user is not a member; new_seq is the
-- (user, chat) marker after the call when this call moved it, null when it stayed. Markers
-- only move forward, never past the chat's last seq (as read when the call started); several
-- requests of one (user, chat) move it once, to the highest valid seq. The rows are locked in
-- (chat_id, user_id) order, so two batches never deadlock each other; a send batch moves its
-- senders' markers in no set order, so the caller runs a batch again if it is picked as a
-- deadlock victim (safe: a marker only moves forward).
CREATE FUNCTION mark_read_batch(p_chat bigint[], p_user bigint[], p_seq bigint[])
RETURNS TABLE (last_seq bigint, new_seq bigint)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH r AS (
        SELECT * FROM unnest(p_chat, p_user, p_seq) WITH ORDINALITY AS r (chat_id, user_id, seq, ord)
    ), judged AS (
        SELECT r.ord, r.chat_id, r.user_id, r.seq, m.last_seq
        FROM r
        LEFT JOIN LATERAL (
            SELECT c.last_seq FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
            WHERE cm.chat_id = r.chat_id AND cm.user_id = r.user_id OFFSET 0
        ) m ON true
    ), wanted AS (
        SELECT j.chat_id, j.user_id, max(j.seq) AS seq
        FROM judged j WHERE j.seq <= j.last_seq
        GROUP BY j.chat_id, j.user_id
        ORDER BY j.chat_id, j.user_id
    ), locked AS MATERIALIZED (
        -- In (chat_id, user_id) order: the nested loop takes each row's lock in turn.
        SELECT w.chat_id, w.user_id, w.seq
        FROM wanted w
        CROSS JOIN LATERAL (
            SELECT 1 FROM chat_members cm
            WHERE cm.chat_id = w.chat_id AND cm.user_id = w.user_id AND cm.last_read_seq < w.seq
            FOR UPDATE
        ) x
    ), moved AS (
        UPDATE chat_members SET last_read_seq = l.seq
        FROM locked l
        WHERE chat_members.chat_id = l.chat_id AND chat_members.user_id = l.user_id
          AND chat_members.last_read_seq < l.seq
        RETURNING chat_members.chat_id, chat_members.user_id, chat_members.last_read_seq
    )
    SELECT j.last_seq, mv.last_read_seq
    FROM judged j LEFT JOIN moved mv ON mv.chat_id = j.chat_id AND mv.user_id = j.user_id
    ORDER BY j.ord;
END
$$;
