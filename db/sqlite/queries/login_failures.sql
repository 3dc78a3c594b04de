-- name: GetLoginRun :one
SELECT failures, last_failure, locks, locked_until
FROM login_failures
WHERE account = sqlc.arg(account) AND source = sqlc.arg(source);

-- name: SaveLoginRun :exec
INSERT INTO login_failures (account, source, failures, last_failure, locks, locked_until)
VALUES (sqlc.arg(account), sqlc.arg(source), sqlc.arg(failures), sqlc.arg(last_failure),
        sqlc.arg(locks), sqlc.narg(locked_until))
ON CONFLICT (account, source) DO UPDATE
SET failures = excluded.failures, last_failure = excluded.last_failure,
    locks = excluded.locks, locked_until = excluded.locked_until;

-- name: DeleteLoginRun :exec
DELETE FROM login_failures WHERE account = sqlc.arg(account) AND source = sqlc.arg(source);

-- name: LiftLoginLock :exec
-- Ends the account's lock and its count toward the next one, keeping the
-- campaign's count of locks.
UPDATE login_failures SET failures = 0, locked_until = NULL
WHERE account = sqlc.arg(account) AND source = X'';

-- name: ForgetLoginSources :exec
DELETE FROM login_failures WHERE account = sqlc.arg(account) AND source <> X'';

-- name: PruneLoginFailures :execrows
-- Forgets runs that no longer count: those of sources idle since
-- source_before, and those of accounts idle since account_before whose
-- lock, if any, has run out.
DELETE FROM login_failures
WHERE (source <> X'' AND last_failure < sqlc.arg(source_before))
   OR (source = X'' AND last_failure < sqlc.arg(account_before)
       AND (locked_until IS NULL OR locked_until < CAST(sqlc.arg(now) AS INTEGER)));
