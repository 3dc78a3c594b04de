-- +goose Up
-- The tokens of emailed links, kept like the codes: only a keyed hash.
ALTER TABLE users ADD COLUMN activation_link_hash BLOB
    CHECK (activation_link_hash IS NULL OR length(activation_link_hash) > 0);
ALTER TABLE users ADD COLUMN reset_link_hash BLOB
    CHECK (reset_link_hash IS NULL OR length(reset_link_hash) > 0);
-- The account's cap on wrong codes: a count as of wrong_codes_at.
ALTER TABLE users ADD COLUMN wrong_codes INTEGER NOT NULL DEFAULT 0 CHECK (wrong_codes >= 0);
ALTER TABLE users ADD COLUMN wrong_codes_at INTEGER;
-- The link that lifts a login lock at once, emailed when the lock starts.
ALTER TABLE users ADD COLUMN unlock_link_hash BLOB
    CHECK (unlock_link_hash IS NULL OR length(unlock_link_hash) > 0);
ALTER TABLE users ADD COLUMN unlock_expires_at INTEGER;

-- Codes pending from before were hashed without the server's key and can
-- never match again; dropping them makes the answer "request a new code"
-- rather than "wrong code".
UPDATE users SET activation_code_hash = NULL, activation_expires_at = NULL, activation_attempts = 0
WHERE activation_code_hash IS NOT NULL;
UPDATE users SET reset_code_hash = NULL, reset_expires_at = NULL, reset_attempts = 0
WHERE reset_code_hash IS NOT NULL;

-- Runs of failed logins, per account (source empty) and per account and
-- client source. Both are fixed-size digests, so that no client input is
-- stored, and keyed by the email as typed, so that an address without an
-- account behaves like one with. Only the account's row locks.
CREATE TABLE login_failures (
    account      BLOB    NOT NULL CHECK (length(account) = 16),
    source       BLOB    NOT NULL CHECK (length(source) IN (0, 16)),
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    last_failure INTEGER NOT NULL,
    locks        INTEGER NOT NULL DEFAULT 0 CHECK (locks >= 0),
    locked_until INTEGER,
    PRIMARY KEY (account, source),
    CHECK (length(source) = 0 OR (locks = 0 AND locked_until IS NULL))
) WITHOUT ROWID;

CREATE INDEX login_failures_last ON login_failures (last_failure);

-- +goose Down
DROP TABLE login_failures;
ALTER TABLE users DROP COLUMN unlock_expires_at;
ALTER TABLE users DROP COLUMN unlock_link_hash;
ALTER TABLE users DROP COLUMN wrong_codes_at;
ALTER TABLE users DROP COLUMN wrong_codes;
ALTER TABLE users DROP COLUMN reset_link_hash;
ALTER TABLE users DROP COLUMN activation_link_hash;
