-- +goose Up
-- Passkeys: the WebAuthn credentials of accounts. The private key never
-- leaves the authenticator; a row holds the public key (COSE) and what
-- checking the authenticator's later signatures needs. Times are unix
-- milliseconds.
CREATE TABLE passkeys (
    id                 TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's name for the credential: WebAuthn bounds it to
    -- 1023 bytes, and one credential belongs to one account only.
    credential_id      BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    public_key         BLOB    NOT NULL CHECK (length(public_key) > 0),
    attestation_type   TEXT    NOT NULL DEFAULT '',
    attestation_format TEXT    NOT NULL DEFAULT '',
    -- The authenticator model's 16-byte AAGUID; NULL when none was given.
    aaguid             BLOB    CHECK (aaguid IS NULL OR length(aaguid) = 16),
    -- An unsigned 32-bit counter, which INTEGER holds whole.
    sign_count         INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    -- The transports the browser reported, as a JSON array of strings: any
    -- string survives, spaces included.
    transports         TEXT    NOT NULL DEFAULT '[]'
                               CHECK (json_valid(transports) AND json_type(transports) = 'array'),
    attachment         TEXT    NOT NULL DEFAULT '',
    user_verified      INTEGER NOT NULL CHECK (user_verified IN (0, 1)),
    backup_eligible    INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state       INTEGER NOT NULL CHECK (backup_state IN (0, 1)),
    name               TEXT    NOT NULL CHECK (name <> ''),
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER
);

-- An account's passkeys are read, counted and listed oldest first.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- +goose Down
DROP TABLE passkeys;
