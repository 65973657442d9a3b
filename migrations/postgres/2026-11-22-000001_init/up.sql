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
    tag_keys                TEXT NOT NULL DEFAULT '',  -- case-folded tag names as |a|b|, for filters
    completed               BOOLEAN NOT NULL DEFAULT FALSE,
    completed_at            TIMESTAMP,
    priority                SMALLINT NOT NULL DEFAULT 0,  -- 0 none .. 4 urgent
    due_at                  TIMESTAMP,
    recurrence_pattern      TEXT,
    recurrence_mode         TEXT NOT NULL DEFAULT 'due',
    recurrence_end_date     TIMESTAMP,
    reminder_offset_minutes INTEGER,
    parent_task_id          TEXT,            -- the previous occurrence of a recurring task
    occurrence              INTEGER NOT NULL DEFAULT 1,  -- 1, 2, … within its series (for COUNT)
    version                 INTEGER NOT NULL DEFAULT 1,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);

-- Exactly one successor per occurrence, however completions race.
CREATE UNIQUE INDEX tasks_parent ON tasks (parent_task_id);

-- One index per sort order, so a page is an index walk; the nulls-last due
-- date orders need the (due_at IS NULL) expression the queries sort by.
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_due ON tasks (user_id, due_at, id);
CREATE INDEX tasks_user_due_asc ON tasks (user_id, (due_at IS NULL), due_at, id);
CREATE INDEX tasks_user_due_desc ON tasks (user_id, (due_at IS NULL), due_at DESC, id DESC);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key, id);
-- Every filterable column: counting the matches of any filter is a scan of
-- this index, never of the table.
-- search_key stays out: btree entries are capped at ~2.7 kB and descriptions run longer.
CREATE INDEX tasks_user_filter ON tasks (user_id, completed, priority, due_at, tag_keys);

-- Substring search (LIKE '%…%') through a trigram index. pg_trgm is a
-- trusted extension (no superuser needed); it lives in `public` so that it
-- outlives any other schema. Without it, search still works, by scanning.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    EXECUTE 'CREATE INDEX tasks_search_trgm ON tasks USING gin (search_key public.gin_trgm_ops)';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): task search will scan', SQLERRM;
END
$$;

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
