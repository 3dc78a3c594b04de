-- name: CreatePasskey :exec
INSERT INTO passkeys (
    id, user_id, credential_id, public_key, attestation_type, attestation_format, aaguid,
    sign_count, transports, attachment, user_verified, backup_eligible, backup_state,
    name, created_at, last_used_at
) VALUES (
    sqlc.arg(id), sqlc.arg(user_id), sqlc.arg(credential_id), sqlc.arg(public_key),
    sqlc.arg(attestation_type), sqlc.arg(attestation_format), sqlc.narg(aaguid),
    sqlc.arg(sign_count), sqlc.arg(transports), sqlc.arg(attachment), sqlc.arg(user_verified),
    sqlc.arg(backup_eligible), sqlc.arg(backup_state), sqlc.arg(name), sqlc.arg(created_at),
    sqlc.narg(last_used_at)
);

-- name: PasskeysOfUser :many
-- Oldest first; the id orders passkeys made in the same millisecond.
SELECT *
FROM passkeys
WHERE user_id = sqlc.arg(user_id)
ORDER BY created_at, id;

-- name: CountPasskeysOfUser :one
SELECT count(*) FROM passkeys WHERE user_id = sqlc.arg(user_id);

-- name: GetPasskeyByCredentialID :one
SELECT * FROM passkeys WHERE credential_id = sqlc.arg(credential_id);

-- name: LockPasskeyOfUser :one
-- Another account's passkey is not found, as a missing one is.
SELECT * FROM passkeys WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id) FOR UPDATE;

-- name: UpdatePasskey :execrows
-- Saves what using or renaming a passkey changes; the credential itself
-- never changes.
UPDATE passkeys
SET name         = sqlc.arg(name),
    sign_count   = sqlc.arg(sign_count),
    backup_state = sqlc.arg(backup_state),
    last_used_at = sqlc.narg(last_used_at)
WHERE id = sqlc.arg(id);

-- name: DeletePasskey :execrows
DELETE FROM passkeys WHERE id = sqlc.arg(id);

-- name: ImportPasskeys :copyfrom
INSERT INTO passkeys (
    id, user_id, credential_id, public_key, attestation_type, attestation_format, aaguid,
    sign_count, transports, attachment, user_verified, backup_eligible, backup_state,
    name, created_at, last_used_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);
