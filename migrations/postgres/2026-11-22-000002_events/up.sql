-- The event log, which is also the transactional outbox. One row per domain
-- event, written in the same transaction as the change it describes; `seq`
-- is the user's gapless sequence number (from users.last_event_seq).
-- `published_at` stays NULL until every topic has the event (it is set at
-- once when Dapr is off: nothing to publish).
CREATE TABLE events (
    id           TEXT PRIMARY KEY NOT NULL,     -- UUID; the task-events CloudEvent id
    user_id      TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    event_type   TEXT NOT NULL,                 -- task.created, …, reminder.triggered
    task_id      TEXT,
    payload      TEXT NOT NULL,                 -- the domain event, JSON
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    UNIQUE (user_id, seq)
);

CREATE INDEX events_unpublished ON events (user_id, seq) WHERE published_at IS NULL;

-- Per-topic publication state of events whose publication is under way:
-- written by the publisher when an event is published on some topics but
-- not all, or a topic failed (attempts, last error, when to retry).
CREATE TABLE event_deliveries (
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    topic           TEXT NOT NULL,
    published_at    TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TIMESTAMP,
    PRIMARY KEY (event_id, topic)
);

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
