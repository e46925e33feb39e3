"""Generated from sql/*.sql by `python -m messenger.statements`: do not edit by hand.

Infrastructure. Each field holds the SQL text of the statement of that name (see db.Q).
"""

import msgspec


class Queries(msgspec.Struct, frozen=True):
    # sql/admin.sql
    admin_flag: str
    admin_user_by_username: str
    admin_insert_user: str
    admin_set_password: str
    admin_set_flag: str
    admin_deactivate: str
    admin_reactivate: str
    admin_list_users: str
    admin_stats: str
    admin_message_chat: str
    admin_notify_end_sessions: str

    # sql/auth.sql
    session_is_live: str
    insert_user: str
    account_by_email: str
    login_by_email: str
    login_by_username: str
    set_password: str
    mark_verified: str
    insert_email_token: str
    void_email_tokens: str
    email_token_state: str
    use_email_token: str
    insert_session: str
    insert_refresh_token: str
    refresh_token_for_update: str
    spend_refresh_token: str
    touch_session: str
    session_of_refresh_token: str
    session_owner: str
    end_session: str
    end_user_sessions: str
    list_sessions: str

    # sql/chats.sql
    member_role: str
    lock_chat: str
    lock_direct_chat: str
    existing_users: str
    insert_chat: str
    insert_members: str
    add_member_count: str
    chat_last_seq: str
    chat_read_floors: str
    chat_for_user: str
    chats_for_user: str
    update_chat: str
    member_ids: str
    delete_chat: str
    members_page: str
    member_row: str
    set_role: str
    remove_member: str
    successor: str
    mark_read: str
    mark_read_batch: str
    chats_of_member: str

    # sql/erasure.sql
    erasure_lock_user: str
    erasure_end_sessions: str
    erasure_personal_rows: str
    erasure_media: str
    erasure_profile: str

    # sql/events.sql
    append_events: str
    open_span: str
    open_spans: str
    close_span: str
    close_all_spans: str
    stream_state: str
    events_for_user: str
    events_of_messages: str
    rewrite_events: str
    trim_events: str

    # sql/maintenance.sql
    delete_expired_refresh_tokens: str
    delete_expired_email_tokens: str
    end_idle_sessions: str

    # sql/media.sql
    media_insert: str
    media_by_id: str
    media_visible: str
    media_mark_ready: str
    media_delete: str
    media_attachable: str
    media_attach: str
    media_for_messages: str
    media_avatar_candidate: str
    media_current_avatar: str
    media_delete_orphans: str

    # sql/messages.sql
    lock_chats: str
    member_roles_for: str
    messages_by_keys: str
    reply_targets: str
    forward_sources: str
    mentioned_members: str
    insert_messages: str
    send_messages: str
    send_message: str
    messages_before: str
    messages_after: str
    messages_rendered: str
    pinned_messages: str
    lock_message: str
    replies_of: str
    edit_message: str
    tombstone_message: str

    # sql/notifications.sql
    notification_candidates: str
    insert_notifications: str
    notifications_page: str
    unread_notifications_page: str
    unread_notification_count: str
    mark_notifications_read: str
    mark_all_notifications_read: str
    get_user_settings: str
    update_user_settings: str
    get_chat_settings: str
    update_chat_settings: str
    digest_due_users: str
    digest_lock_user: str
    digest_pending: str
    digest_drop: str
    digest_insert: str
    digest_claim: str
    digests_unsent: str
    digest_try_lock: str
    digest_unlock: str
    digest_get: str
    digest_items: str
    digest_finish: str
    digest_failed: str
    settle_read_notifications: str
    delete_old_notifications: str
    delete_old_digests: str

    # sql/pins.sql
    lock_chat_for_pins: str
    pin_target: str
    pin_count: str
    set_pinned: str

    # sql/reactions.sql
    lock_message_for_reaction: str
    reaction_state: str
    add_reaction: str
    remove_reaction: str
    decrement_reaction_count: str
    reaction_summary: str
    reaction_users: str
    message_in_chat: str

    # sql/realtime.sql
    realtime_spans_at: str
    realtime_events_after: str
    realtime_went: str
    realtime_presence_candidates: str

    # sql/search.sql
    search_messages: str
    search_reindex_state: str
    search_reindex_batch: str
    search_reindex_store: str

    # sql/users.sql
    user_public: str
    users_public_by_ids: str
    user_me: str
    update_profile: str
    search_users: str
    users_presence: str
