-- name: CreateSession :exec
INSERT INTO sessions (
    id, user_id, created_at, last_used_at, expires_at, revoked_at,
    user_agent, ip, refresh_token_id, previous_refresh_token_id, rotated_at, amr, second_factor_at
) VALUES (
    sqlc.arg(id), sqlc.arg(user_id), sqlc.arg(created_at), sqlc.arg(last_used_at),
    sqlc.arg(expires_at), sqlc.narg(revoked_at), sqlc.arg(user_agent), sqlc.arg(ip),
    sqlc.arg(refresh_token_id), sqlc.arg(previous_refresh_token_id), sqlc.narg(rotated_at),
    sqlc.arg(amr), sqlc.narg(second_factor_at)
);

-- name: GetSession :one
SELECT * FROM sessions WHERE id = sqlc.arg(id);

-- name: GetSessionWithUser :one
-- A session and the account it belongs to, in one read: what a refresh
-- checks.
SELECT sqlc.embed(s), sqlc.embed(u)
FROM sessions AS s
JOIN users AS u ON u.id = s.user_id
WHERE s.id = sqlc.arg(id);

-- name: LockSession :one
SELECT * FROM sessions WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: UpdateSession :execrows
-- Saves the mutable columns of a session.
UPDATE sessions
SET last_used_at              = sqlc.arg(last_used_at),
    revoked_at                = sqlc.narg(revoked_at),
    refresh_token_id          = sqlc.arg(refresh_token_id),
    previous_refresh_token_id = sqlc.arg(previous_refresh_token_id),
    rotated_at                = sqlc.narg(rotated_at),
    second_factor_at          = sqlc.narg(second_factor_at)
WHERE id = sqlc.arg(id);

-- name: LiveSessionsOfUser :many
SELECT * FROM sessions
WHERE user_id = sqlc.arg(user_id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now)
ORDER BY created_at DESC, id DESC;

-- name: RevokeSessions :execrows
UPDATE sessions
SET revoked_at = sqlc.arg(now)::timestamptz
WHERE user_id = sqlc.arg(user_id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now)
  AND id <> sqlc.arg(except_id);

-- name: ImportSessions :copyfrom
INSERT INTO sessions (
    id, user_id, created_at, last_used_at, expires_at, revoked_at,
    user_agent, ip, refresh_token_id, previous_refresh_token_id, rotated_at, amr, second_factor_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13);

-- name: GetSessionsWithUsers :many
-- Sessions with their accounts, in one read: concurrent refreshes share it
-- (see adapters/postgres/coalesce.go).
SELECT sqlc.embed(s), sqlc.embed(u)
FROM sessions AS s
JOIN users AS u ON u.id = s.user_id
WHERE s.id = ANY(sqlc.arg(ids)::text[]);
