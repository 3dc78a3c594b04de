-- +goose Up
-- What operators need: disabled accounts, the last login, the audit log and
-- the admin API's keys.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN last_login_at timestamptz;
-- The key of the account's runs of failed logins (login_failures.account), a
-- digest of its email that the service computes and fills in, so that the
-- accounts a lock holds can be listed. NULL only until the service fills in
-- the accounts from before this migration, at start-up.
ALTER TABLE users ADD COLUMN login_key bytea CHECK (octet_length(login_key) = 16);
CREATE INDEX users_login_key ON users (login_key);
-- Operators search accounts by the start of their email.
CREATE INDEX users_email_prefix ON users (email text_pattern_ops);

-- The audit log: security events, appended in the same transaction as the
-- change they record. user_id has no foreign key: the log outlives the
-- accounts it tells of. Rows are never changed, only pruned when old.
CREATE TABLE audit_events (
    id         bigint      NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    type       text        NOT NULL CHECK (type <> ''),
    user_id    text        CHECK (user_id <> ''),
    email      text        NOT NULL DEFAULT '',
    reason     text        NOT NULL DEFAULT '',
    actor      text        NOT NULL DEFAULT '',
    ip         text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Keys of the admin API: a name and the SHA-256 of the key, never the key.
-- Names are never reused, so a revoked key stays.
CREATE TABLE admin_keys (
    name       text        NOT NULL PRIMARY KEY CHECK (name <> ''),
    hash       bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE admin_keys;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE audit_events;
DROP INDEX users_email_prefix;
DROP INDEX users_login_key;
ALTER TABLE users DROP COLUMN login_key;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN disabled_at;
