-- name: SupersedeMail :exec
-- Settles the unsent messages of a slot before a newer one is queued.
UPDATE outbox
SET state = 'superseded', text_body = '', html_body = '', settled_at = sqlc.arg(now)::timestamptz
WHERE slot = sqlc.arg(slot)::text AND state = 'pending';

-- name: QueueMail :exec
INSERT INTO outbox (
    id, recipient, subject, text_body, html_body, slot,
    queued_at, next_attempt_at, expires_at
) VALUES (
    sqlc.arg(id), sqlc.arg(recipient), sqlc.arg(subject),
    sqlc.arg(text_body), sqlc.arg(html_body), sqlc.narg(slot),
    sqlc.arg(queued_at), sqlc.arg(queued_at), sqlc.narg(expires_at)
);

-- name: ClaimMail :many
-- Claims the oldest due messages by moving their next attempt to the end of
-- the lease. SKIP LOCKED lets the replicas' claims pass each other: a
-- message that another claim holds is left to it, not waited for.
WITH due AS (
    SELECT o.id, o.next_attempt_at AS due_at, o.seq
    FROM outbox AS o
    WHERE o.state = 'pending' AND o.next_attempt_at <= sqlc.arg(now)
    ORDER BY o.next_attempt_at, o.seq
    LIMIT sqlc.arg(max_messages)
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox
    SET next_attempt_at = sqlc.arg(lease_until)
    FROM due
    WHERE outbox.id = due.id
    RETURNING outbox.id, outbox.recipient, outbox.subject, outbox.text_body, outbox.html_body,
              outbox.slot, outbox.attempts, outbox.queued_at, outbox.expires_at, due.due_at, due.seq
)
SELECT id, recipient, subject, text_body, html_body, slot, attempts, queued_at, expires_at
FROM claimed
ORDER BY due_at, seq;

-- name: RescheduleMail :exec
UPDATE outbox
SET next_attempt_at = sqlc.arg(next_attempt_at)
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MarkMailSent :exec
UPDATE outbox
SET state = 'sent', text_body = '', html_body = '', last_error = NULL, settled_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: RetryMail :exec
UPDATE outbox
SET attempts = sqlc.arg(attempts), next_attempt_at = sqlc.arg(next_attempt_at),
    last_error = sqlc.arg(last_error)::text
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MarkMailDead :exec
UPDATE outbox
SET state = 'dead', text_body = '', html_body = '', attempts = sqlc.arg(attempts),
    last_error = sqlc.arg(reason)::text, settled_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND state = 'pending';

-- name: MailStats :many
SELECT state, count(*) AS messages, min(queued_at)::timestamptz AS oldest_queued_at
FROM outbox
GROUP BY state;

-- name: PruneMail :execrows
DELETE FROM outbox
WHERE state <> 'pending' AND queued_at < sqlc.arg(before);
