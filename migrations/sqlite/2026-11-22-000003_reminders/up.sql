-- Reminders: at most one pending per task. A pending reminder fires once:
-- the instance that flips it to 'sent' (a conditional update) owns the
-- firing, so two replicas on one database never fire it twice.
CREATE TABLE reminders (
    id         TEXT PRIMARY KEY NOT NULL,
    task_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    remind_at  TIMESTAMP NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | cancelled
    fired_at   TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE UNIQUE INDEX reminders_one_pending_per_task ON reminders (task_id) WHERE state = 'pending';
CREATE INDEX reminders_due ON reminders (remind_at) WHERE state = 'pending';
CREATE INDEX reminders_user ON reminders (user_id, state, remind_at);
