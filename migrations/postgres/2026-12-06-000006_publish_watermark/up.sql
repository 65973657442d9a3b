-- The outbox's publication state becomes a per-user watermark: every event
-- of a user up to `published_seq` is on all its topics. A user's events go
-- out in sequence order, so one number per user says what a flag on every
-- event said, and publishing rewrites one small row per user and round
-- instead of every event row (and its index entries), while a new event
-- enters no index of unpublished rows.
ALTER TABLE users ADD COLUMN published_seq BIGINT NOT NULL DEFAULT 0;

UPDATE users SET published_seq = COALESCE(
    (SELECT MIN(e.seq) - 1 FROM events e WHERE e.user_id = users.id AND e.published_at IS NULL),
    last_event_seq);

-- `events.published_at` and `events_unpublished` stay for replicas of the
-- previous release during a rolling upgrade: this release no longer writes
-- the column, and the default makes its events published in their eyes, so
-- they do not publish them a second time (they go on publishing their own,
-- which this release then publishes once more from the watermark: consumers
-- dedupe). A later release drops both.
ALTER TABLE events ALTER COLUMN published_at SET DEFAULT (now() AT TIME ZONE 'UTC');
