ALTER TABLE events ALTER COLUMN published_at DROP DEFAULT;
UPDATE events SET published_at = NULL
    FROM users WHERE users.id = events.user_id AND events.seq > users.published_seq;
ALTER TABLE users DROP COLUMN published_seq;
