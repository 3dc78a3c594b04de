package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var (
	_ ports.AuditLog      = (*Store)(nil)
	_ ports.AdminKeyStore = (*Store)(nil)
)

// ListUsers returns a page of the accounts q selects, in id order.
func (s *Store) ListUsers(ctx context.Context, q ports.UserQuery) ([]ports.AccountSummary, error) {
	rows, err := s.reads.ListUsers(ctx, sqlcgen.ListUsersParams{
		After:    q.After,
		Prefix:   string(q.EmailPrefix),
		State:    string(q.State),
		Now:      q.Now.UnixMilli(),
		PageSize: int64(q.Limit),
	})
	if err != nil {
		return nil, translate(ctx, "list users", err)
	}
	page := make([]ports.AccountSummary, len(rows))
	for i, r := range rows {
		page[i] = ports.AccountSummary{User: userFromRow(r.User)}
		if until := timeFromNull(r.LockedUntil); until.After(q.Now) {
			page[i].LockedUntil = until
		}
	}
	return page, nil
}

// recordEvents appends events to the audit log inside the caller's
// transaction.
func recordEvents(ctx context.Context, q *sqlcgen.Queries, events []domain.AuditEvent) error {
	for _, e := range events {
		err := q.InsertAuditEvent(ctx, sqlcgen.InsertAuditEventParams{
			At:        e.At.UnixMilli(),
			Type:      string(e.Type),
			UserID:    sql.NullString{String: e.UserID, Valid: e.UserID != ""},
			Email:     e.Email,
			Reason:    e.Reason,
			Actor:     e.Actor,
			Ip:        e.IP,
			UserAgent: e.UserAgent,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Record appends events to the audit log in one transaction.
func (s *Store) Record(ctx context.Context, events ...domain.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error { return recordEvents(ctx, q, events) })
	return translate(ctx, "record audit events", err)
}

// AuditEvents returns a page of the events q selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, q ports.AuditQuery) ([]domain.AuditEvent, error) {
	params := sqlcgen.AuditEventsParams{
		Before:   q.Before,
		UserID:   sql.NullString{String: q.UserID, Valid: q.UserID != ""},
		Since:    math.MinInt64,
		Until:    math.MaxInt64,
		PageSize: int64(q.Limit),
	}
	if params.Before <= 0 {
		params.Before = math.MaxInt64
	}
	if q.UserID == "" {
		params.AnyUser = 1
	}
	types := make([]string, len(q.Types))
	for i, typ := range q.Types {
		types[i] = string(typ)
	}
	params.Types = strings.Join(types, ",")
	if !q.Since.IsZero() {
		params.Since = q.Since.UnixMilli()
	}
	if !q.Until.IsZero() {
		params.Until = q.Until.UnixMilli()
	}
	rows, err := s.reads.AuditEvents(ctx, params)
	if err != nil {
		return nil, translate(ctx, "read audit events", err)
	}
	events := make([]domain.AuditEvent, len(rows))
	for i, r := range rows {
		events[i] = domain.AuditEvent{
			ID:        r.ID,
			At:        timeFromMillis(r.At),
			Type:      domain.EventType(r.Type),
			UserID:    r.UserID.String,
			Email:     r.Email,
			Reason:    r.Reason,
			Actor:     r.Actor,
			IP:        r.Ip,
			UserAgent: r.UserAgent,
		}
	}
	return events, nil
}

// PruneAudit deletes the events from before the given time.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	n, err := s.writes.PruneAudit(ctx, before.UnixMilli())
	if err != nil {
		return 0, translate(ctx, "prune audit events", err)
	}
	return int(n), nil
}

// CreateAdminKey stores key and its event, or returns
// domain.ErrAdminKeyExists.
func (s *Store) CreateAdminKey(ctx context.Context, key domain.AdminKey, event domain.AuditEvent) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		err := q.InsertAdminKey(ctx, sqlcgen.InsertAdminKeyParams{Name: key.Name, Hash: key.Hash, CreatedAt: key.CreatedAt.UnixMilli()})
		if err != nil {
			return err
		}
		return recordEvents(ctx, q, []domain.AuditEvent{event})
	})
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return domain.ErrAdminKeyExists
	}
	return translate(ctx, "create admin key", err)
}

// AdminKeys returns every key by name.
func (s *Store) AdminKeys(ctx context.Context) ([]domain.AdminKey, error) {
	rows, err := s.reads.AdminKeys(ctx)
	if err != nil {
		return nil, translate(ctx, "read admin keys", err)
	}
	keys := make([]domain.AdminKey, len(rows))
	for i, r := range rows {
		keys[i] = domain.AdminKey{Name: r.Name, Hash: r.Hash, CreatedAt: timeFromMillis(r.CreatedAt), RevokedAt: timeFromNull(r.RevokedAt)}
	}
	return keys, nil
}

// RevokeAdminKey revokes the named key and saves its event, or returns
// domain.ErrAdminKeyNotFound.
func (s *Store) RevokeAdminKey(ctx context.Context, name string, at time.Time, event domain.AuditEvent) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		n, err := q.RevokeAdminKey(ctx, sqlcgen.RevokeAdminKeyParams{Name: name, At: sql.NullInt64{Int64: at.UnixMilli(), Valid: true}})
		if err != nil {
			return err
		}
		if n == 0 {
			return domain.ErrAdminKeyNotFound
		}
		return recordEvents(ctx, q, []domain.AuditEvent{event})
	})
	if errors.Is(err, domain.ErrAdminKeyNotFound) {
		return err
	}
	return translate(ctx, "revoke admin key", err)
}
