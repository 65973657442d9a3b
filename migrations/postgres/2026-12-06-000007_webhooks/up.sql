-- Webhook endpoints: each user's HTTP receivers of their events. Deliveries
-- are driven from the event log: `delivered_seq` is the endpoint's cursor
-- (every event of the user up to it is delivered or not for this endpoint),
-- so nothing is lost to a crash and each endpoint gets its events in order.
CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    event_types           TEXT NOT NULL DEFAULT '',   -- patterns, space-separated; '' = every type
    enabled               BOOLEAN NOT NULL,
    secret                TEXT NOT NULL,              -- whsec_…: the HMAC key must be at hand to sign
    previous_secret       TEXT,                       -- after a rotation, signs too until …
    previous_secret_until TIMESTAMP,
    delivered_seq         BIGINT NOT NULL,
    cursor_epoch          INTEGER NOT NULL DEFAULT 0, -- moved on by a replay, which sets the cursor back
    failures              INTEGER NOT NULL DEFAULT 0, -- failed attempts at the event after the cursor
    next_attempt_at       TIMESTAMP,                  -- when that event is tried again
    disabled_reason       TEXT,
    disabled_at           TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, created_at);

-- The most recent delivery attempts of each endpoint (the newest 100 are kept).
CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY NOT NULL,          -- UUIDv7: ordered by time
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,                      -- also the webhook-id header
    seq           BIGINT NOT NULL,                    -- 0 for webhook.test
    event_type    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,                   -- 1 for the first try of this event
    status        INTEGER,                            -- the receiver's HTTP status; NULL: no answer
    latency_ms    DOUBLE PRECISION NOT NULL,
    error         TEXT,
    next_retry_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
