-- name: TakeRateLimit :one
SELECT take_rate_limit(sqlc.arg(buckets)::bytea[], sqlc.arg(bursts)::float8[],
                       sqlc.arg(intervals)::float8[], sqlc.arg(at_time)::timestamptz)::float8 AS wait_seconds;

-- name: PruneRateLimits :execrows
-- Forgets the buckets that are full again: no row means the same.
DELETE FROM rate_limits WHERE full_at <= sqlc.arg(now);

-- name: LockSigningKeys :exec
-- Makes updates of the key set take turns across the fleet, until the end
-- of the transaction.
LOCK TABLE signing_keys IN EXCLUSIVE MODE;

-- name: SigningKeys :many
SELECT public_key, sealed_key, created_at, active_from
FROM signing_keys
ORDER BY active_from, created_at, public_key;

-- name: DeleteSigningKeys :exec
DELETE FROM signing_keys;

-- name: InsertSigningKey :exec
INSERT INTO signing_keys (public_key, sealed_key, created_at, active_from)
VALUES (sqlc.arg(public_key), sqlc.arg(sealed_key), sqlc.arg(created_at), sqlc.arg(active_from));

-- name: RecordSecretCheck :one
-- Records the digest of a shared secret if none is recorded yet, and returns
-- the one recorded, the first replica's.
WITH inserted AS (
    INSERT INTO secret_checks (purpose, digest)
    VALUES (sqlc.arg(purpose), sqlc.arg(digest))
    ON CONFLICT (purpose) DO NOTHING
    RETURNING digest
)
SELECT digest FROM inserted
UNION ALL
SELECT digest FROM secret_checks WHERE purpose = sqlc.arg(purpose)
LIMIT 1;
