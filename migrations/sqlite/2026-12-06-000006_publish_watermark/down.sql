ALTER TABLE events ADD COLUMN published_at TIMESTAMP;
UPDATE events SET published_at = created_at
    WHERE seq <= (SELECT published_seq FROM users WHERE users.id = events.user_id);
CREATE INDEX events_unpublished ON events (user_id, seq) WHERE published_at IS NULL;
ALTER TABLE users DROP COLUMN published_seq;
