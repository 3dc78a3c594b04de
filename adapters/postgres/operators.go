package postgres

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var (
	_ ports.AuditLog      = (*Store)(nil)
	_ ports.AdminKeyStore = (*Store)(nil)
)

// Far ends of time, for filters left open.
var (
	beginningOfTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTime       = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// likePrefix escapes a prefix for LIKE, whose escape character is a
// backslash, and matches what follows it.
func likePrefix(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
}

// ListUsers returns a page of the accounts q selects, in id order.
func (s *Store) ListUsers(ctx context.Context, q ports.UserQuery) ([]ports.AccountSummary, error) {
	if !storable(q.After) || !storable(string(q.EmailPrefix)) {
		return []ports.AccountSummary{}, nil
	}
	rows, err := s.db.q.ListUsers(ctx, sqlcgen.ListUsersParams{
		After:        q.After,
		EmailPattern: likePrefix(string(q.EmailPrefix)),
		State:        string(q.State),
		Now:          ms(q.Now),
		PageSize:     int32(q.Limit),
	})
	if err != nil {
		return nil, translate(ctx, "list users", err)
	}
	page := make([]ports.AccountSummary, len(rows))
	for i, r := range rows {
		page[i] = ports.AccountSummary{User: userFromRow(r.User)}
		if until := fromOpt(r.LockedUntil); until.After(q.Now) {
			page[i].LockedUntil = until
		}
	}
	return page, nil
}

// recordEvents appends events to the audit log inside the caller's
// transaction.
func recordEvents(ctx context.Context, q *sqlcgen.Queries, events []domain.AuditEvent) error {
	for _, e := range events {
		var userID *string
		if e.UserID != "" {
			userID = &e.UserID
		}
		err := q.InsertAuditEvent(ctx, sqlcgen.InsertAuditEventParams{
			At:        ms(e.At),
			Type:      string(e.Type),
			UserID:    userID,
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
	if !storable(q.UserID) {
		return []domain.AuditEvent{}, nil
	}
	params := sqlcgen.AuditEventsParams{
		Before:   q.Before,
		Types:    []string{},
		Since:    beginningOfTime,
		Until:    endOfTime,
		PageSize: int32(q.Limit),
	}
	if params.Before <= 0 {
		params.Before = math.MaxInt64
	}
	if q.UserID != "" {
		params.UserID = &q.UserID
	}
	for _, typ := range q.Types {
		params.Types = append(params.Types, string(typ))
	}
	if !q.Since.IsZero() {
		params.Since = ms(q.Since)
	}
	if !q.Until.IsZero() {
		params.Until = ms(q.Until)
	}
	rows, err := s.db.q.AuditEvents(ctx, params)
	if err != nil {
		return nil, translate(ctx, "read audit events", err)
	}
	events := make([]domain.AuditEvent, len(rows))
	for i, r := range rows {
		events[i] = domain.AuditEvent{
			ID:        r.ID,
			At:        r.At.UTC(),
			Type:      domain.EventType(r.Type),
			UserID:    deref(r.UserID),
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
	n, err := s.db.q.PruneAudit(ctx, ms(before))
	if err != nil {
		return 0, translate(ctx, "prune audit events", err)
	}
	return int(n), nil
}

// CreateAdminKey stores key and its event, or returns
// domain.ErrAdminKeyExists.
func (s *Store) CreateAdminKey(ctx context.Context, key domain.AdminKey, event domain.AuditEvent) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		err := q.InsertAdminKey(ctx, sqlcgen.InsertAdminKeyParams{Name: key.Name, Hash: key.Hash, CreatedAt: ms(key.CreatedAt)})
		if err != nil {
			return err
		}
		return recordEvents(ctx, q, []domain.AuditEvent{event})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return domain.ErrAdminKeyExists
	}
	return translate(ctx, "create admin key", err)
}

// AdminKeys returns every key by name.
func (s *Store) AdminKeys(ctx context.Context) ([]domain.AdminKey, error) {
	rows, err := s.db.q.AdminKeys(ctx)
	if err != nil {
		return nil, translate(ctx, "read admin keys", err)
	}
	keys := make([]domain.AdminKey, len(rows))
	for i, r := range rows {
		keys[i] = domain.AdminKey{Name: r.Name, Hash: r.Hash, CreatedAt: r.CreatedAt.UTC(), RevokedAt: fromOpt(r.RevokedAt)}
	}
	return keys, nil
}

// RevokeAdminKey revokes the named key and saves its event, or returns
// domain.ErrAdminKeyNotFound.
func (s *Store) RevokeAdminKey(ctx context.Context, name string, at time.Time, event domain.AuditEvent) error {
	if !storable(name) {
		return domain.ErrAdminKeyNotFound
	}
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		n, err := q.RevokeAdminKey(ctx, sqlcgen.RevokeAdminKeyParams{Name: name, At: ms(at)})
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
