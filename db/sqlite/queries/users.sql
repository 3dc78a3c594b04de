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
    sqlc.narg(disabled_at), sqlc.narg(last_login_at), sqlc.arg(login_key),
    sqlc.narg(totp_secret), sqlc.narg(totp_enabled_at), sqlc.narg(pending_totp_secret), sqlc.narg(pending_totp_at),
    sqlc.arg(totp_last_step), sqlc.narg(recovery_codes),
    sqlc.arg(id)
);

-- name: GetUserByEmail :one
SELECT *
FROM users
WHERE email = sqlc.arg(email);

-- name: GetUserByID :one
SELECT *
FROM users
WHERE id = sqlc.arg(id);

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
    login_key             = sqlc.arg(login_key),
    totp_secret           = sqlc.narg(totp_secret),
    totp_enabled_at       = sqlc.narg(totp_enabled_at),
    pending_totp_secret   = sqlc.narg(pending_totp_secret),
    pending_totp_at       = sqlc.narg(pending_totp_at),
    totp_last_step        = sqlc.arg(totp_last_step),
    recovery_codes        = sqlc.narg(recovery_codes)
WHERE id = sqlc.arg(id);

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = sqlc.arg(id);

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: RecordLogin :exec
-- Keeps the time of the account's newest session as its last login.
UPDATE users
SET last_login_at = max(coalesce(last_login_at, 0), sqlc.arg(at))
WHERE id = sqlc.arg(id);

-- name: ListUsers :many
-- A page of accounts in id order, for operators: those after the cursor
-- whose email starts with the prefix and that are in the state asked for,
-- with the end of their login lock.
SELECT sqlc.embed(u), f.locked_until
FROM users AS u
LEFT JOIN login_failures AS f ON f.account = u.login_key AND f.source = X''
WHERE u.id > sqlc.arg(after)
  AND substr(u.email, 1, length(CAST(sqlc.arg(prefix) AS TEXT))) = sqlc.arg(prefix)
  AND CASE CAST(sqlc.arg(state) AS TEXT)
        WHEN '' THEN 1
        WHEN 'active' THEN u.is_active = 1 AND u.disabled_at IS NULL
        WHEN 'inactive' THEN u.is_active = 0 AND u.disabled_at IS NULL
        WHEN 'disabled' THEN u.disabled_at IS NOT NULL
        WHEN 'locked' THEN coalesce(f.locked_until > CAST(sqlc.arg(now) AS INTEGER), 0)
        ELSE 0
      END
ORDER BY u.id
LIMIT sqlc.arg(page_size);

-- name: UsersWithoutLoginKey :many
-- Accounts from before login keys, to be filled in.
SELECT id, email FROM users WHERE login_key IS NULL LIMIT 1000;

-- name: SetLoginKey :exec
UPDATE users SET login_key = sqlc.arg(login_key) WHERE id = sqlc.arg(id);

-- name: UsersAfter :many
-- A page of accounts in id order, for copying them elsewhere.
SELECT *
FROM users
WHERE id > sqlc.arg(after)
ORDER BY id
LIMIT sqlc.arg(page_size);
