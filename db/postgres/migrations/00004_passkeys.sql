-- +goose Up
-- Passkeys: the WebAuthn credentials of accounts. The private key never
-- leaves the authenticator; a row holds the public key (COSE) and what
-- checking the authenticator's later signatures needs.
CREATE TABLE passkeys (
    id                 text        NOT NULL PRIMARY KEY CHECK (id <> ''),
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's name for the credential: WebAuthn bounds it to
    -- 1023 bytes, and one credential belongs to one account only.
    credential_id      bytea       NOT NULL CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    public_key         bytea       NOT NULL CHECK (octet_length(public_key) > 0),
    attestation_type   text        NOT NULL DEFAULT '',
    attestation_format text        NOT NULL DEFAULT '',
    -- The authenticator model's 16-byte AAGUID; NULL when none was given.
    aaguid             bytea       CHECK (octet_length(aaguid) = 16),
    -- An unsigned 32-bit counter: integer is signed, so bigint holds it.
    sign_count         bigint      NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    transports         text[]      NOT NULL DEFAULT '{}',
    attachment         text        NOT NULL DEFAULT '',
    user_verified      boolean     NOT NULL,
    backup_eligible    boolean     NOT NULL,
    backup_state       boolean     NOT NULL,
    name               text        NOT NULL CHECK (name <> ''),
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz,
    -- Named, so that the store can tell a credential registered twice from
    -- other refusals.
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);

-- An account's passkeys are read, counted and listed oldest first.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- +goose Down
DROP TABLE passkeys;
