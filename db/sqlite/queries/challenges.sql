-- name: CreateChallenge :exec
INSERT INTO challenges (id, purpose, user_id, data, amr, created_at, expires_at, failures, used_at)
VALUES (sqlc.arg(id), sqlc.arg(purpose), sqlc.narg(user_id), sqlc.narg(data), sqlc.arg(amr),
        sqlc.arg(created_at), sqlc.arg(expires_at), sqlc.arg(failures), sqlc.narg(used_at));

-- name: GetChallenge :one
SELECT * FROM challenges WHERE id = sqlc.arg(id);

-- name: UpdateChallenge :execrows
-- Saves what answering a challenge changes.
UPDATE challenges SET failures = sqlc.arg(failures), used_at = sqlc.narg(used_at), data = sqlc.narg(data)
WHERE id = sqlc.arg(id);

-- name: PruneChallenges :execrows
DELETE FROM challenges WHERE expires_at < sqlc.arg(before);
