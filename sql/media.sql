-- Media: uploads, their verification, visibility, attachments and cleanup.

-- name: media_insert
INSERT INTO media (owner_id, storage_key, filename, content_type, size)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, owner_id, storage_key, filename, content_type, size, status, sha256, width, height, created_at;

-- name: media_by_id
SELECT id, owner_id, storage_key, filename, content_type, size, status, sha256, width, height, created_at
FROM media WHERE id = $1;

-- Visible to $2: the uploader, or a current member of a chat holding a live message carrying it.
-- name: media_visible
SELECT m.id, m.owner_id, m.storage_key, m.filename, m.content_type, m.size, m.status, m.sha256,
       m.width, m.height, m.created_at
FROM media m
WHERE m.id = $1
  AND (m.owner_id = $2
       OR EXISTS (SELECT 1
                  FROM message_attachments a
                  JOIN messages msg ON msg.id = a.message_id AND msg.deleted_at IS NULL
                  JOIN chat_members cm ON cm.chat_id = msg.chat_id AND cm.user_id = $2
                  WHERE a.media_id = m.id));

-- name: media_mark_ready
UPDATE media SET status = 'ready', sha256 = $2, width = $3, height = $4, completed_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING id, owner_id, storage_key, filename, content_type, size, status, sha256, width, height, created_at;

-- name: media_delete
DELETE FROM media WHERE id = $1 AND status = 'pending' RETURNING storage_key;

-- Attachment checks for a batch of messages: the ready media among the ids (the caller checks
-- owners), share-locked in id order against the cleanup job until the messages commit.
-- name: media_attachable
SELECT id, owner_id, storage_key, filename, content_type, size, status, sha256, width, height, created_at
FROM media
WHERE id = ANY($1::bigint[]) AND status = 'ready'
ORDER BY id
FOR SHARE;

-- name: media_attach
INSERT INTO message_attachments (message_id, position, media_id)
SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[]);

-- name: media_for_messages
SELECT a.message_id, m.id, m.owner_id, m.storage_key, m.filename, m.content_type, m.size, m.status,
       m.sha256, m.width, m.height, m.created_at
FROM message_attachments a
JOIN messages msg ON msg.id = a.message_id AND msg.deleted_at IS NULL
JOIN media m ON m.id = a.media_id
WHERE a.message_id = ANY($1::bigint[])
ORDER BY a.message_id, a.position;

-- An avatar must be a ready image of the user.
-- name: media_avatar_candidate
SELECT id FROM media
WHERE id = $1 AND owner_id = $2 AND status = 'ready' AND content_type LIKE 'image/%'
FOR SHARE;

-- The media behind an avatar_url: only while some user has it as avatar.
-- name: media_current_avatar
SELECT m.id, m.owner_id, m.storage_key, m.filename, m.content_type, m.size, m.status, m.sha256,
       m.width, m.height, m.created_at
FROM media m
WHERE m.id = $1 AND m.status = 'ready' AND EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.id);

-- Orphans: never completed, or completed but neither attached to a live message nor anyone's
-- avatar, created
-- before $1. Rows are deleted first (the conditions re-checked under lock), then the objects.
-- name: media_delete_orphans
DELETE FROM media
WHERE id IN (
    SELECT m.id FROM media m
    WHERE m.created_at < $1
      AND (m.status = 'pending'
           OR (NOT EXISTS (SELECT 1 FROM message_attachments a
                           JOIN messages msg ON msg.id = a.message_id AND msg.deleted_at IS NULL
                           WHERE a.media_id = m.id)
               AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.id)))
    ORDER BY m.created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED)
RETURNING storage_key;
