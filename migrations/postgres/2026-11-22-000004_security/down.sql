DROP INDEX processed_events_received;
DROP INDEX events_created;
ALTER TABLE tasks DROP COLUMN successor_created;
DROP TABLE revoked_tokens;
DROP INDEX users_tokens_valid_after;
ALTER TABLE users DROP COLUMN tokens_valid_after;
ALTER TABLE users DROP COLUMN token_epoch;
