-- CreateUser and UpdateUser take their parameters in the same order, so the
-- store converts an account into parameters in one place for both.

-- name: CreateUser :exec
INSERT INTO users (
    email, first_name, last_name, password_hash, is_active,
    activation_code_hash, activation_expires_at, activation_attempts,
    created_at, updated_at, activated_at,
    reset_code_hash, reset_expires_at, reset_attempts,
    activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
    unlock_link_hash, unlock_expires_at, id
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
    sqlc.arg(id)
);

-- name: GetUserByEmail :one
SELECT id, email, first_name, last_name, password_hash, is_active,
       activation_code_hash, activation_expires_at, activation_attempts,
       created_at, updated_at, activated_at,
       reset_code_hash, reset_expires_at, reset_attempts,
       activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
       unlock_link_hash, unlock_expires_at
FROM users
WHERE email = sqlc.arg(email);

-- name: GetUserByID :one
SELECT id, email, first_name, last_name, password_hash, is_active,
       activation_code_hash, activation_expires_at, activation_attempts,
       created_at, updated_at, activated_at,
       reset_code_hash, reset_expires_at, reset_attempts,
       activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
       unlock_link_hash, unlock_expires_at
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
    unlock_expires_at     = sqlc.narg(unlock_expires_at)
WHERE id = sqlc.arg(id);

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = sqlc.arg(id);

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: UsersAfter :many
-- A page of accounts in id order, for copying them elsewhere.
SELECT id, email, first_name, last_name, password_hash, is_active,
       activation_code_hash, activation_expires_at, activation_attempts,
       created_at, updated_at, activated_at,
       reset_code_hash, reset_expires_at, reset_attempts,
       activation_link_hash, reset_link_hash, wrong_codes, wrong_codes_at,
       unlock_link_hash, unlock_expires_at
FROM users
WHERE id > sqlc.arg(after)
ORDER BY id
LIMIT sqlc.arg(page_size);
