-- CreateUser and UpdateUser take their parameters in the same order, so the
-- store converts an account into parameters in one place for both.

-- name: CreateUser :exec
INSERT INTO users (
    email, first_name, last_name, password_hash, is_active,
    activation_code_hash, activation_expires_at, activation_attempts,
    created_at, updated_at, activated_at,
    reset_code_hash, reset_expires_at, reset_attempts,
    activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
    unlock_link_hash, unlock_expires_at, disabled_at, last_login_at, login_key,
    totp_secret, totp_enabled_at, pending_totp_secret, pending_totp_at, totp_last_step, recovery_codes, id
) VALUES (
    sqlc.arg(email), sqlc.arg(first_name), sqlc.arg(last_name),
    sqlc.arg(password_hash), sqlc.arg(is_active),
    sqlc.narg(activation_code_hash), sqlc.narg(activation_expires_at),
    sqlc.arg(activation_attempts),
    sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.narg(activated_at),
    sqlc.narg(reset_code_hash), sqlc.narg(reset_expires_at), sqlc.arg(reset_attempts),
    sqlc.narg(activation_link_hash), sqlc.narg(reset_link_hash),
    sqlc.arg(wrong_codes), sqlc.narg(wrong_codes_at),
    sqlc.narg(unlock_link_hash), sqlc.narg(unlock_expires_at),
    sqlc.narg(disabled_at), sqlc.narg(last_login_at), sqlc.arg(login_key)::bytea,
    sqlc.narg(totp_secret), sqlc.narg(totp_enabled_at), sqlc.narg(pending_totp_secret), sqlc.narg(pending_totp_at),
    sqlc.arg(totp_last_step), sqlc.narg(recovery_codes),
    sqlc.arg(id)
);

-- name: GetUserByEmail :one
SELECT * FROM users WHERE email = sqlc.arg(email);

-- name: GetUserByID :one
SELECT * FROM users WHERE id = sqlc.arg(id);

-- name: LockUserByEmail :one
-- Reads the account for an update in the same transaction: concurrent
-- updates of one account wait for each other here.
SELECT * FROM users WHERE email = sqlc.arg(email) FOR UPDATE;

-- name: LockUserByID :one
SELECT * FROM users WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: UpdateUser :execrows
-- Saves every column of the account with the given id.
UPDATE users
SET email                 = sqlc.arg(email),
    first_name            = sqlc.arg(first_name),
    last_name             = sqlc.arg(last_name),
    password_hash         = sqlc.arg(password_hash),
    is_active             = sqlc.arg(is_active),
    activation_code_hash  = sqlc.narg(activation_code_hash),
    activation_expires_at = sqlc.narg(activation_expires_at),
    activation_attempts   = sqlc.arg(activation_attempts),
    created_at            = sqlc.arg(created_at),
    updated_at            = sqlc.arg(updated_at),
    activated_at          = sqlc.narg(activated_at),
    reset_code_hash       = sqlc.narg(reset_code_hash),
    reset_expires_at      = sqlc.narg(reset_expires_at),
    reset_attempts        = sqlc.arg(reset_attempts),
    activation_link_hash  = sqlc.narg(activation_link_hash),
    reset_link_hash       = sqlc.narg(reset_link_hash),
    wrong_codes           = sqlc.arg(wrong_codes),
    wrong_codes_at        = sqlc.narg(wrong_codes_at),
    unlock_link_hash      = sqlc.narg(unlock_link_hash),
    unlock_expires_at     = sqlc.narg(unlock_expires_at),
    disabled_at           = sqlc.narg(disabled_at),
    last_login_at         = sqlc.narg(last_login_at),
    login_key             = sqlc.arg(login_key)::bytea,
    totp_secret           = sqlc.narg(totp_secret),
    totp_enabled_at       = sqlc.narg(totp_enabled_at),
    pending_totp_secret   = sqlc.narg(pending_totp_secret),
    pending_totp_at       = sqlc.narg(pending_totp_at),
    totp_last_step        = sqlc.arg(totp_last_step),
    recovery_codes        = sqlc.narg(recovery_codes)
WHERE id = sqlc.arg(id);

-- name: DeleteUser :one
-- Deletes the account (its sessions go with it) and returns it.
DELETE FROM users WHERE id = sqlc.arg(id) RETURNING *;

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: ImportUsers :copyfrom
INSERT INTO users (
    email, first_name, last_name, password_hash, is_active,
    activation_code_hash, activation_expires_at, activation_attempts,
    created_at, updated_at, activated_at,
    reset_code_hash, reset_expires_at, reset_attempts,
    activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
    unlock_link_hash, unlock_expires_at, disabled_at, last_login_at, login_key,
    totp_secret, totp_enabled_at, pending_totp_secret, pending_totp_at, totp_last_step, recovery_codes, id
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26, $27, $28, $29, $30
);

-- name: LockUsersForImport :exec
-- Keeps replicas from creating accounts while an import checks that there
-- are none and copies its own.
LOCK TABLE users IN EXCLUSIVE MODE;

-- name: RecordLogin :exec
-- Keeps the time of the account's newest session as its last login.
UPDATE users
SET last_login_at = greatest(last_login_at, sqlc.arg(at)::timestamptz)
WHERE id = sqlc.arg(id);

-- name: ListUsers :many
-- A page of accounts in id order, for operators: those after the cursor
-- whose email matches the pattern (a prefix, escaped for LIKE by the store)
-- and that are in the state asked for, with the end of their login lock.
SELECT sqlc.embed(u), f.locked_until
FROM users AS u
LEFT JOIN login_failures AS f ON f.account = u.login_key AND f.source = ''::bytea
WHERE u.id > sqlc.arg(after)
  AND u.email LIKE sqlc.arg(email_pattern)
  AND CASE sqlc.arg(state)::text
        WHEN '' THEN true
        WHEN 'active' THEN u.is_active AND u.disabled_at IS NULL
        WHEN 'inactive' THEN NOT u.is_active AND u.disabled_at IS NULL
        WHEN 'disabled' THEN u.disabled_at IS NOT NULL
        WHEN 'locked' THEN coalesce(f.locked_until > sqlc.arg(now)::timestamptz, false)
        ELSE false
      END
ORDER BY u.id
LIMIT sqlc.arg(page_size);

-- name: UsersWithoutLoginKey :many
-- Accounts from before login keys, to be filled in.
SELECT id, email FROM users WHERE login_key IS NULL LIMIT 1000;

-- name: SetLoginKey :exec
UPDATE users SET login_key = sqlc.arg(login_key) WHERE id = sqlc.arg(id);

-- name: GetUsersByIDs :many
-- The accounts with the given ids, in one read: concurrent lookups by id
-- share it (see adapters/postgres/coalesce.go).
SELECT * FROM users WHERE id = ANY(sqlc.arg(ids)::text[]);
