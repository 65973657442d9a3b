-- Users, tasks and tags. Ids are TEXT (UUIDs written by the service; external
-- identity providers may use other URL-safe strings for users). Timestamps
-- are UTC, written by the service, never defaulted by the database.
CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT UNIQUE,            -- lower-cased; NULL for external users
    name           TEXT,
    password_hash  TEXT,                   -- argon2id PHC string; NULL for external users
    timezone       TEXT NOT NULL DEFAULT 'UTC',
    last_event_seq BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE tasks (
    id                      TEXT PRIMARY KEY NOT NULL,
    user_id                 TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                   TEXT NOT NULL,
    title_key               TEXT NOT NULL,   -- case-folded title, for sorting
    description             TEXT,
    search_key              TEXT NOT NULL,   -- case-folded title + description, for search
    completed               BOOLEAN NOT NULL DEFAULT FALSE,
    completed_at            TIMESTAMP,
    priority                SMALLINT NOT NULL DEFAULT 0,  -- 0 none .. 4 urgent
    due_at                  TIMESTAMP,
    recurrence_pattern      TEXT,
    recurrence_mode         TEXT NOT NULL DEFAULT 'due',
    recurrence_end_date     TIMESTAMP,
    reminder_offset_minutes INTEGER,
    parent_task_id          TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);

CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_due ON tasks (user_id, due_at, id);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key, id);
CREATE INDEX tasks_user_completed ON tasks (user_id, completed, created_at);

CREATE TABLE tags (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,               -- case-folded name: unique per user
    color      TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name_key)
);

CREATE TABLE task_tags (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tag_id  TEXT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, tag_id)
);

CREATE INDEX task_tags_tag ON task_tags (tag_id, task_id);
