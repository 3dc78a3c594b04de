-- +goose Up
-- Sessions: one per login; every refresh token belongs to one. Times are unix
-- milliseconds; revoked_at is NULL while the session is live.
CREATE TABLE sessions (
    id                        TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    user_id                   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at                INTEGER NOT NULL,
    last_used_at              INTEGER NOT NULL,
    expires_at                INTEGER NOT NULL,
    revoked_at                INTEGER,
    user_agent                TEXT    NOT NULL DEFAULT '',
    ip                        TEXT    NOT NULL DEFAULT '',
    refresh_token_id          TEXT    NOT NULL CHECK (refresh_token_id <> ''),
    previous_refresh_token_id TEXT    NOT NULL DEFAULT '',
    rotated_at                INTEGER,
    CHECK (expires_at > created_at)
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- +goose Down
DROP TABLE sessions;
