-- name: SupersedeMail :exec
-- Settles the unsent messages of a slot before a newer one is queued.
UPDATE outbox
SET state = 'superseded', text_body = '', html_body = '', settled_at = CAST(sqlc.arg(now) AS INTEGER)
WHERE slot = CAST(sqlc.arg(slot) AS TEXT) AND state = 'pending';

-- name: QueueMail :exec
INSERT INTO outbox (
    id, recipient, subject, text_body, html_body, slot,
    queued_at, next_attempt_at, expires_at
) VALUES (
    sqlc.arg(id), sqlc.arg(recipient), sqlc.arg(subject),
    sqlc.arg(text_body), sqlc.arg(html_body), sqlc.narg(slot),
    sqlc.arg(queued_at), sqlc.arg(queued_at), sqlc.narg(expires_at)
);

-- name: DueMail :many
SELECT id, recipient, subject, text_body, html_body, slot,
       attempts, queued_at, expires_at
FROM outbox
WHERE state = 'pending' AND next_attempt_at <= sqlc.arg(now)
ORDER BY next_attempt_at, rowid
LIMIT sqlc.arg(max_messages);

-- name: LeaseMail :exec
-- Claims the messages DueMail returned, in the same transaction: SQLite has
-- one writer at a time, so no other claim can come between the two.
UPDATE outbox
SET next_attempt_at = sqlc.arg(lease_until)
WHERE id IN (sqlc.slice(ids)) AND state = 'pending';

-- name: RescheduleMail :exec
UPDATE outbox
SET next_attempt_at = sqlc.arg(next_attempt_at)
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MarkMailSent :exec
UPDATE outbox
SET state = 'sent', text_body = '', html_body = '', last_error = NULL,
    settled_at = CAST(sqlc.arg(now) AS INTEGER)
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: RetryMail :exec
UPDATE outbox
SET attempts = sqlc.arg(attempts), next_attempt_at = sqlc.arg(next_attempt_at),
    last_error = CAST(sqlc.arg(last_error) AS TEXT)
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MarkMailDead :exec
UPDATE outbox
SET state = 'dead', text_body = '', html_body = '', attempts = sqlc.arg(attempts),
    last_error = CAST(sqlc.arg(reason) AS TEXT), settled_at = CAST(sqlc.arg(now) AS INTEGER)
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MailStats :many
SELECT state, count(*) AS messages, CAST(min(queued_at) AS INTEGER) AS oldest_queued_at
FROM outbox
GROUP BY state;

-- name: PruneMail :execrows
DELETE FROM outbox
WHERE state <> 'pending' AND queued_at < sqlc.arg(before);
