-- +goose Up
-- Two-step login. The authenticator secret is stored sealed (AES-GCM under
-- a key derived from the server secret); recovery codes only as keyed
-- hashes, 32 bytes each, one after another.
ALTER TABLE users ADD COLUMN totp_secret BLOB CHECK (totp_secret IS NULL OR length(totp_secret) > 0);
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN pending_totp_secret BLOB
    CHECK (pending_totp_secret IS NULL OR length(pending_totp_secret) > 0);
ALTER TABLE users ADD COLUMN pending_totp_at INTEGER;
-- The time step of the last code accepted; no code of it or before works.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0 CHECK (totp_last_step >= 0);
ALTER TABLE users ADD COLUMN recovery_codes BLOB
    CHECK (recovery_codes IS NULL OR (length(recovery_codes) > 0 AND length(recovery_codes) % 32 = 0));

-- How a session's user proved who they were (RFC 8176 values, separated by
-- spaces), and when they last gave a second factor. The sessions from
-- before were all password logins.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd' CHECK (amr <> '');
ALTER TABLE sessions ADD COLUMN second_factor_at INTEGER;

-- Ceremonies that span requests, such as the second step of a login:
-- single use, short lived, with a count of wrong answers.
CREATE TABLE challenges (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    purpose    TEXT    NOT NULL CHECK (purpose <> ''),
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    data       BLOB,
    amr        TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    used_at    INTEGER,
    CHECK (expires_at > created_at)
);

CREATE INDEX challenges_expiry ON challenges (expires_at);

-- +goose Down
DROP TABLE challenges;
ALTER TABLE sessions DROP COLUMN second_factor_at;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE users DROP COLUMN recovery_codes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN pending_totp_at;
ALTER TABLE users DROP COLUMN pending_totp_secret;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_secret;
