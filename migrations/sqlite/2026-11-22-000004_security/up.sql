-- Ending sessions: a token revoked by logout is remembered (by the SHA-256 of
-- the token) until it would have expired anyway. "Log out everywhere" moves
-- the user's token epoch on (tokens of an earlier epoch are refused) and sets
-- `tokens_valid_after` (for external tokens, which carry no epoch).
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tokens_valid_after TIMESTAMP;
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after) WHERE tokens_valid_after IS NOT NULL;

CREATE TABLE revoked_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,   -- hex SHA-256 of the token
    user_id    TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,          -- the token's own expiry: forgotten after it
    revoked_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- A recurring task makes its successor once, ever: deleting the successor
-- does not let a replayed completion create another.
ALTER TABLE tasks ADD COLUMN successor_created BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE tasks SET successor_created = TRUE
    WHERE id IN (SELECT parent_task_id FROM tasks WHERE parent_task_id IS NOT NULL);

-- Retention: old events and remembered delivery ids are deleted by age.
CREATE INDEX events_created ON events (created_at);
CREATE INDEX processed_events_received ON processed_events (received_at);
