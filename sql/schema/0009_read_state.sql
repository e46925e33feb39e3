-- Read state and presence: others' read markers in the chat list, last seen, its privacy switch.

-- "Seen" needs the highest marker of the other members of each listed chat: with this index it
-- is a backward scan reading at most two entries (the top one may be the caller's own), however
-- large the chat. Updates of last_read_seq (sends, reads) are no longer HOT because of it.
CREATE INDEX chat_members_read ON chat_members (chat_id, last_read_seq DESC, user_id);

-- When the user was last seen online: written when they go offline (and when they come online),
-- at most once a minute per user (the UPDATE's condition), never per frame. NULL: not yet seen.
ALTER TABLE users ADD COLUMN IF NOT EXISTS last_seen_at timestamptz;

-- Whether others may see last_seen_at; hiding yours also hides everyone's from you.
ALTER TABLE user_settings ADD COLUMN show_last_seen boolean NOT NULL DEFAULT true;
