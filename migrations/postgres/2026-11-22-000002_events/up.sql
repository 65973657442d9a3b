-- The event log (transactional outbox). One row per domain event, written
-- in the same transaction as the change it describes; `seq` is the user's
-- gapless sequence number (from users.last_event_seq).
CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,     -- UUID; the task-events CloudEvent id
    user_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    event_type  TEXT NOT NULL,                 -- task.created, …, reminder.triggered
    task_id     TEXT,
    payload     TEXT NOT NULL,                 -- the domain event, JSON
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (user_id, seq)
);

-- Publication state per event and topic (only written when Dapr is on).
CREATE TABLE event_deliveries (
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    topic           TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    published_at    TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TIMESTAMP,
    PRIMARY KEY (event_id, topic)
);

CREATE INDEX event_deliveries_pending ON event_deliveries (user_id, seq, topic)
    WHERE published_at IS NULL;

-- CloudEvent ids already consumed from Dapr (idempotent consumers).
CREATE TABLE processed_events (
    id          TEXT PRIMARY KEY NOT NULL,
    topic       TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);

-- Which instance may publish the outbox right now: one at a time keeps each
-- user's events in order across replicas.
CREATE TABLE relay_leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
