-- +goose Up
-- The pending password reset code of an account, kept like its activation
-- code: only a hash, with an expiry and a count of wrong attempts.
ALTER TABLE users ADD COLUMN reset_code_hash BLOB
    CHECK (reset_code_hash IS NULL OR length(reset_code_hash) > 0);
ALTER TABLE users ADD COLUMN reset_expires_at INTEGER;
ALTER TABLE users ADD COLUMN reset_attempts INTEGER NOT NULL DEFAULT 0
    CHECK (reset_attempts >= 0);

-- +goose Down
ALTER TABLE users DROP COLUMN reset_attempts;
ALTER TABLE users DROP COLUMN reset_expires_at;
ALTER TABLE users DROP COLUMN reset_code_hash;
