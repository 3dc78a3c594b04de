-- name: InsertAuditEvent :exec
INSERT INTO audit_events (at, type, user_id, email, reason, actor, ip, user_agent)
VALUES (sqlc.arg(at), sqlc.arg(type), sqlc.narg(user_id), sqlc.arg(email), sqlc.arg(reason),
        sqlc.arg(actor), sqlc.arg(ip), sqlc.arg(user_agent));

-- name: AuditEvents :many
-- A page of events, newest first, older than the cursor, filtered by
-- account, types and time.
SELECT id, at, type, user_id, email, reason, actor, ip, user_agent
FROM audit_events
WHERE id < sqlc.arg(before)
  AND (sqlc.narg(user_id)::text IS NULL OR user_id = sqlc.narg(user_id))
  AND (cardinality(sqlc.arg(types)::text[]) = 0 OR type = ANY (sqlc.arg(types)::text[]))
  AND at >= sqlc.arg(since) AND at < sqlc.arg(until)
ORDER BY id DESC
LIMIT sqlc.arg(page_size);

-- name: PruneAudit :execrows
DELETE FROM audit_events WHERE at < sqlc.arg(before);

-- name: InsertAdminKey :exec
INSERT INTO admin_keys (name, hash, created_at) VALUES (sqlc.arg(name), sqlc.arg(hash), sqlc.arg(created_at));

-- name: AdminKeys :many
SELECT name, hash, created_at, revoked_at FROM admin_keys ORDER BY name;

-- name: RevokeAdminKey :execrows
UPDATE admin_keys SET revoked_at = coalesce(revoked_at, sqlc.arg(at)::timestamptz) WHERE name = sqlc.arg(name);
