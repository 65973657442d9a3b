-- The outbox's publication state becomes a per-user watermark: every event
-- of a user up to `published_seq` is on all its topics. A user's events go
-- out in sequence order, so one number per user says what a flag on every
-- event said, and publishing rewrites one small row per user and round
-- instead of every event row (and its index entries), while a new event
-- enters no index of unpublished rows. (One process owns a SQLite file, so
-- no earlier release reads the old column meanwhile: it goes.)
ALTER TABLE users ADD COLUMN published_seq BIGINT NOT NULL DEFAULT 0;

UPDATE users SET published_seq = COALESCE(
    (SELECT MIN(e.seq) - 1 FROM events e WHERE e.user_id = users.id AND e.published_at IS NULL),
    last_event_seq);

DROP INDEX events_unpublished;
ALTER TABLE events DROP COLUMN published_at;
