-- name: EnsureLoginRuns :exec
-- Makes sure both runs of an attempt have a row, so that the next statement
-- can lock them; a new row is an empty run.
INSERT INTO login_failures (account, source, failures, last_failure)
VALUES (sqlc.arg(account), ''::bytea, 0, sqlc.arg(now)),
       (sqlc.arg(account), sqlc.arg(source), 0, sqlc.arg(now))
ON CONFLICT (account, source) DO NOTHING;

-- name: LockLoginRuns :many
-- Locks the account's run and the pair's, the account's first (it sorts
-- first), so that every attempt on one account queues in the same order.
SELECT source, failures, last_failure, locks, locked_until
FROM login_failures
WHERE account = sqlc.arg(account) AND source IN (''::bytea, sqlc.arg(source))
ORDER BY source
FOR UPDATE;

-- name: SaveLoginRun :exec
UPDATE login_failures
SET failures = sqlc.arg(failures), last_failure = sqlc.arg(last_failure),
    locks = sqlc.arg(locks), locked_until = sqlc.narg(locked_until)
WHERE account = sqlc.arg(account) AND source = sqlc.arg(source);

-- name: DeleteLoginRuns :exec
DELETE FROM login_failures
WHERE account = sqlc.arg(account) AND source IN (''::bytea, sqlc.arg(source));

-- name: LiftLoginLock :exec
-- Ends the account's lock and its count toward the next one, keeping the
-- campaign's count of locks.
UPDATE login_failures SET failures = 0, locked_until = NULL
WHERE account = sqlc.arg(account) AND source = ''::bytea;

-- name: ForgetLoginSources :exec
DELETE FROM login_failures WHERE account = sqlc.arg(account) AND source <> ''::bytea;

-- name: PruneLoginFailures :execrows
-- Forgets runs that no longer count: those of sources idle since
-- source_before, and those of accounts idle since account_before whose
-- lock, if any, has run out.
DELETE FROM login_failures
WHERE (source <> ''::bytea AND last_failure < sqlc.arg(source_before))
   OR (source = ''::bytea AND last_failure < sqlc.arg(account_before)
       AND (locked_until IS NULL OR locked_until < sqlc.arg(now)::timestamptz));

-- name: AccountLockedUntil :one
SELECT locked_until FROM login_failures WHERE account = sqlc.arg(account) AND source = ''::bytea;
