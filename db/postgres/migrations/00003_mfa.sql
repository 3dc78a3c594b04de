-- +goose Up
-- Two-step login. The authenticator secret is stored sealed (AES-GCM under
-- a key derived from the server secret); recovery codes only as keyed
-- hashes, 32 bytes each, one after another.
ALTER TABLE users ADD COLUMN totp_secret bytea CHECK (octet_length(totp_secret) > 0);
ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz;
ALTER TABLE users ADD COLUMN pending_totp_secret bytea CHECK (octet_length(pending_totp_secret) > 0);
ALTER TABLE users ADD COLUMN pending_totp_at timestamptz;
-- The time step of the last code accepted; no code of it or before works.
ALTER TABLE users ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0 CHECK (totp_last_step >= 0);
ALTER TABLE users ADD COLUMN recovery_codes bytea
    CHECK (octet_length(recovery_codes) > 0 AND octet_length(recovery_codes) % 32 = 0);

-- How a session's user proved who they were (RFC 8176 values, separated by
-- spaces), and when they last gave a second factor. The sessions from
-- before were all password logins.
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd' CHECK (amr <> '');
ALTER TABLE sessions ADD COLUMN second_factor_at timestamptz;

-- Ceremonies that span requests, such as the second step of a login:
-- single use, short lived, with a count of wrong answers. Any replica can
-- finish what another started.
CREATE TABLE challenges (
    id         text        NOT NULL PRIMARY KEY CHECK (id <> ''),
    purpose    text        NOT NULL CHECK (purpose <> ''),
    user_id    text        REFERENCES users (id) ON DELETE CASCADE,
    data       bytea,
    amr        text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    failures   integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    used_at    timestamptz,
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
