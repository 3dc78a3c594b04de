-- +goose Up
-- Accounts. Times are unix milliseconds (UTC); NULL stands for "not set".
-- The CHECKs guard invariants the application relies on, so a bug or a manual
-- edit cannot leave a row the service would misread.
CREATE TABLE users (
    id                    TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- Stored normalized (trimmed, lower-case) so that the UNIQUE index
    -- matches one mailbox however its owner types it.
    email                 TEXT    NOT NULL UNIQUE
                                  CHECK (email <> '' AND email = lower(email) AND email = trim(email)),
    first_name            TEXT    NOT NULL CHECK (first_name <> ''),
    last_name             TEXT    NOT NULL CHECK (last_name <> ''),
    password_hash         TEXT    NOT NULL CHECK (password_hash <> ''),
    is_active             INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
    -- Hash of the pending activation code; NULL when none is pending.
    activation_code_hash  BLOB    CHECK (activation_code_hash IS NULL OR length(activation_code_hash) > 0),
    activation_expires_at INTEGER,
    activation_attempts   INTEGER NOT NULL DEFAULT 0 CHECK (activation_attempts >= 0),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    activated_at          INTEGER,
    -- A pending code always has an expiry, and an expiry belongs to a code.
    CHECK ((activation_code_hash IS NULL) = (activation_expires_at IS NULL)),
    -- An active account records when it was activated and has no code pending.
    CHECK (is_active = 0 OR (activated_at IS NOT NULL AND activation_code_hash IS NULL))
);

-- +goose Down
DROP TABLE users;
