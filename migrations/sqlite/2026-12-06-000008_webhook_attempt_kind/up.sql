-- What made each delivery attempt: the deliverer working through the log
-- ('scheduled'), a replay of one event asked for by the user ('replay'), or
-- a test ('test'). Attempts written before this migration were the
-- deliverer's or, for seq 0, tests.
ALTER TABLE webhook_attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'scheduled';
UPDATE webhook_attempts SET kind = 'test' WHERE seq = 0;
