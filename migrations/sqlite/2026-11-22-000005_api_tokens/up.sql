-- Personal API tokens (what an assistant or a script is configured with):
-- only the SHA-256 of the secret is stored; `scope` is read or write;
-- revoked tokens keep their row (revoked_at) for the record.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,              -- read | write
    token_hash   TEXT NOT NULL UNIQUE,       -- hex SHA-256 of the secret
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at   TIMESTAMP,                  -- NULL: never
    revoked_at   TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
