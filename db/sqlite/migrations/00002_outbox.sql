-- +goose Up
-- The mail outbox: messages are written in the same transaction as the
-- account change that causes them and delivered afterwards, so a signup never
-- waits for, or fails with, the mail server. Times are unix milliseconds.
-- Bodies hold activation codes in clear text while a message is pending; they
-- are erased as soon as it is sent, superseded or given up on.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    recipient       TEXT    NOT NULL CHECK (recipient <> ''),
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL,
    -- Messages of one slot (such as one account's activation) replace each
    -- other while unsent; NULL for messages that stand alone.
    slot            TEXT    CHECK (slot IS NULL OR slot <> ''),
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'dead', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    queued_at       INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    expires_at      INTEGER,
    settled_at      INTEGER,
    -- Only pending messages keep their bodies.
    CHECK (state = 'pending' OR (text_body = '' AND html_body = '')),
    CHECK ((state = 'pending') = (settled_at IS NULL))
);

-- The dispatcher's scan and the supersede step read only pending rows.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_slot ON outbox (slot) WHERE state = 'pending';

-- +goose Down
DROP TABLE outbox;
