-- +goose Up
-- What operators need: disabled accounts, the last login, the audit log and
-- the admin API's keys. Times are unix milliseconds.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
-- The key of the account's runs of failed logins (login_failures.account), a
-- digest of its email that the service computes and fills in, so that the
-- accounts a lock holds can be listed. NULL only until the service fills in
-- the accounts from before this migration, at start-up.
ALTER TABLE users ADD COLUMN login_key BLOB CHECK (login_key IS NULL OR length(login_key) = 16);
CREATE INDEX users_login_key ON users (login_key);

-- The audit log: security events, appended in the same transaction as the
-- change they record. user_id has no foreign key: the log outlives the
-- accounts it tells of. Rows are never changed, only pruned when old.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL CHECK (type <> ''),
    user_id    TEXT    CHECK (user_id IS NULL OR user_id <> ''),
    email      TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose StatementBegin
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
-- +goose StatementEnd

-- Keys of the admin API: a name and the SHA-256 of the key, never the key.
-- Names are never reused, so a revoked key stays.
CREATE TABLE admin_keys (
    name       TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- +goose Down
DROP TABLE admin_keys;
DROP TRIGGER audit_events_append_only;
DROP TABLE audit_events;
DROP INDEX users_login_key;
ALTER TABLE users DROP COLUMN login_key;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN disabled_at;
