-- +goose Up
-- The schema of a PostgreSQL installation, which a fleet of replicas shares.
-- It holds what the SQLite schema holds, in PostgreSQL's own types, plus the
-- state that one process keeps in memory with SQLite but a fleet must share:
-- the rate-limit buckets and the signing keys. The CHECKs guard the
-- invariants the service relies on, so that neither a bug nor a manual edit
-- leaves a row it would misread.

CREATE TABLE users (
    id                    text        NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- Stored normalized (trimmed, lower-case) so that the UNIQUE index
    -- matches one mailbox however its owner types it.
    email                 text        NOT NULL UNIQUE
                                      CHECK (email <> '' AND email = lower(email) AND email = btrim(email)),
    first_name            text        NOT NULL CHECK (first_name <> ''),
    last_name             text        NOT NULL CHECK (last_name <> ''),
    password_hash         text        NOT NULL CHECK (password_hash <> ''),
    is_active             boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    activated_at          timestamptz,
    -- The pending activation code and link: keyed hashes only, with an
    -- expiry and a count of wrong attempts. NULL when none is pending.
    activation_code_hash  bytea       CHECK (octet_length(activation_code_hash) > 0),
    activation_link_hash  bytea       CHECK (octet_length(activation_link_hash) > 0),
    activation_expires_at timestamptz,
    activation_attempts   integer     NOT NULL DEFAULT 0 CHECK (activation_attempts >= 0),
    -- The pending password reset, kept like the activation.
    reset_code_hash       bytea       CHECK (octet_length(reset_code_hash) > 0),
    reset_link_hash       bytea       CHECK (octet_length(reset_link_hash) > 0),
    reset_expires_at      timestamptz,
    reset_attempts        integer     NOT NULL DEFAULT 0 CHECK (reset_attempts >= 0),
    -- The account's cap on wrong codes: a count as of wrong_codes_at.
    wrong_codes           integer     NOT NULL DEFAULT 0 CHECK (wrong_codes >= 0),
    wrong_codes_at        timestamptz,
    -- The link that lifts a login lock at once, emailed when the lock starts.
    unlock_link_hash      bytea       CHECK (octet_length(unlock_link_hash) > 0),
    unlock_expires_at     timestamptz,
    -- A pending code always has an expiry, and an expiry belongs to a code.
    CHECK ((activation_code_hash IS NULL) = (activation_expires_at IS NULL)),
    CHECK ((reset_code_hash IS NULL) = (reset_expires_at IS NULL)),
    -- An active account records when it was activated and has no code pending.
    CHECK (NOT is_active OR (activated_at IS NOT NULL AND activation_code_hash IS NULL))
);

-- Sessions: one per login; every refresh token belongs to one. revoked_at is
-- NULL while the session is live.
CREATE TABLE sessions (
    id                        text        NOT NULL PRIMARY KEY CHECK (id <> ''),
    user_id                   text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at                timestamptz NOT NULL,
    last_used_at              timestamptz NOT NULL,
    expires_at                timestamptz NOT NULL,
    revoked_at                timestamptz,
    user_agent                text        NOT NULL DEFAULT '',
    ip                        text        NOT NULL DEFAULT '',
    refresh_token_id          text        NOT NULL CHECK (refresh_token_id <> ''),
    previous_refresh_token_id text        NOT NULL DEFAULT '',
    rotated_at                timestamptz,
    CHECK (expires_at > created_at)
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- The mail outbox: messages are written in the same transaction as the
-- account change that causes them and delivered afterwards. Bodies hold codes
-- in clear text while a message is pending; they are erased as soon as it is
-- sent, superseded or given up on. A replica claims a message by moving its
-- next attempt past a lease; if the replica dies, the message falls due
-- again when the lease runs out.
CREATE TABLE outbox (
    -- The order in which messages were queued, for a fair delivery order.
    seq             bigint      NOT NULL GENERATED ALWAYS AS IDENTITY UNIQUE,
    id              text        NOT NULL PRIMARY KEY CHECK (id <> ''),
    recipient       text        NOT NULL CHECK (recipient <> ''),
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    -- Messages of one slot (such as one account's activation) replace each
    -- other while unsent; NULL for messages that stand alone.
    slot            text        CHECK (slot <> ''),
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'sent', 'dead', 'superseded')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    queued_at       timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    expires_at      timestamptz,
    settled_at      timestamptz,
    -- Only pending messages keep their bodies.
    CHECK (state = 'pending' OR (text_body = '' AND html_body = '')),
    CHECK ((state = 'pending') = (settled_at IS NULL))
);

-- The dispatchers' scan and the supersede step read only pending rows.
CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX outbox_slot ON outbox (slot) WHERE state = 'pending';

-- Runs of failed logins, per account (source empty) and per account and
-- client source. Both are fixed-size digests, so that no client input is
-- stored, and keyed by the email as typed, so that an address without an
-- account behaves like one with. Only the account's row locks.
CREATE TABLE login_failures (
    account      bytea       NOT NULL CHECK (octet_length(account) = 16),
    source       bytea       NOT NULL CHECK (octet_length(source) IN (0, 16)),
    failures     integer     NOT NULL CHECK (failures >= 0),
    last_failure timestamptz NOT NULL,
    locks        integer     NOT NULL DEFAULT 0 CHECK (locks >= 0),
    locked_until timestamptz,
    PRIMARY KEY (account, source),
    CHECK (octet_length(source) = 0 OR (locks = 0 AND locked_until IS NULL))
);

CREATE INDEX login_failures_last ON login_failures (last_failure);

-- Token buckets of the rate limits, shared by every replica. A bucket is a
-- digest of its limit, rate and subject; no client input is stored. A bucket
-- that is full again (full_at passed) means the same as no row and is
-- pruned.
CREATE TABLE rate_limits (
    bucket     bytea            NOT NULL PRIMARY KEY CHECK (octet_length(bucket) = 16),
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL,
    full_at    timestamptz      NOT NULL
);

CREATE INDEX rate_limits_full ON rate_limits (full_at);

-- take_rate_limit spends one token from each of the given buckets at
-- at_time, or none if any of them is empty, and returns how many seconds
-- until the take would succeed (0 when it did). Each bucket holds at most
-- its burst and earns a token every interval seconds. The buckets are
-- locked in one order, so that concurrent takes of overlapping buckets
-- queue instead of deadlocking, and the whole take is one round trip.
-- +goose StatementBegin
CREATE FUNCTION take_rate_limit(buckets bytea[], bursts double precision[],
                                intervals double precision[], at_time timestamptz)
RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    wait double precision := 0;
BEGIN
    INSERT INTO rate_limits (bucket, tokens, updated_at, full_at)
    SELECT b.bucket, b.burst, at_time, at_time
    FROM unnest(buckets, bursts) AS b (bucket, burst)
    ORDER BY b.bucket
    ON CONFLICT (bucket) DO NOTHING;

    SELECT coalesce(max(CASE WHEN c.tokens < 1 THEN (1 - c.tokens) * c.per_token ELSE 0 END), 0)
    INTO wait
    FROM (
        SELECT least(b.burst, r.tokens + greatest(extract(epoch FROM at_time - r.updated_at), 0) / b.per_token) AS tokens,
               b.per_token
        FROM unnest(buckets, bursts, intervals) AS b (bucket, burst, per_token)
        JOIN (SELECT * FROM rate_limits WHERE bucket = ANY (buckets) ORDER BY bucket FOR UPDATE) AS r
          ON r.bucket = b.bucket
    ) AS c;
    IF wait > 0 THEN
        RETURN wait;
    END IF;

    -- Every expression of SET sees the row as it was, so the refill is
    -- spelled out in each.
    UPDATE rate_limits AS r
    SET tokens     = least(b.burst, r.tokens + greatest(extract(epoch FROM at_time - r.updated_at), 0) / b.per_token) - 1,
        updated_at = greatest(at_time, r.updated_at),
        full_at    = greatest(at_time, r.updated_at) + make_interval(secs =>
                         (b.burst + 1 - least(b.burst, r.tokens + greatest(extract(epoch FROM at_time - r.updated_at), 0) / b.per_token))
                         * b.per_token)
    FROM unnest(buckets, bursts, intervals) AS b (bucket, burst, per_token)
    WHERE r.bucket = b.bucket;
    RETURN 0;
END;
$$;
-- +goose StatementEnd

-- The signing keys of the fleet, oldest first by active_from. Each private
-- key is sealed with AES-256-GCM under the key-encryption key that every
-- replica holds, so that the database alone cannot sign a token. The public
-- key and both times are the seal's associated data: a sealed key moved to
-- another row, or a row whose times were changed, does not open.
CREATE TABLE signing_keys (
    public_key  bytea       NOT NULL PRIMARY KEY CHECK (octet_length(public_key) > 0),
    sealed_key  bytea       NOT NULL CHECK (octet_length(sealed_key) > 28),
    created_at  timestamptz NOT NULL,
    active_from timestamptz NOT NULL CHECK (active_from >= created_at)
);

-- A digest of each secret the replicas must share (the server secret, the
-- key-encryption key), written by the first replica that starts: a replica
-- that holds another secret refuses to start instead of failing codes or
-- keys one request at a time.
CREATE TABLE secret_checks (
    purpose text  NOT NULL PRIMARY KEY CHECK (purpose <> ''),
    digest  bytea NOT NULL CHECK (octet_length(digest) = 32)
);

-- +goose Down
DROP TABLE secret_checks;
DROP TABLE signing_keys;
DROP FUNCTION take_rate_limit(bytea[], double precision[], double precision[], timestamptz);
DROP TABLE rate_limits;
DROP TABLE login_failures;
DROP TABLE outbox;
DROP TABLE sessions;
DROP TABLE users;
