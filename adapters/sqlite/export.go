package sqlite

import (
	"context"
	"time"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
)

// exportPage is how many rows one read of an export takes: enough to keep
// the reads few, few enough that a large database is never held in memory.
const exportPage = 1000

// EachUser calls fn with every account, in id order, until fn returns an
// error, which it returns.
func (s *Store) EachUser(ctx context.Context, fn func(domain.User) error) error {
	after := ""
	for {
		rows, err := s.reads.UsersAfter(ctx, sqlcgen.UsersAfterParams{After: after, PageSize: exportPage})
		if err != nil {
			return translate(ctx, "export users", err)
		}
		for _, r := range rows {
			if err := fn(userFromRow(r)); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// EachLiveSession calls fn with every session live at now, in id order,
// until fn returns an error, which it returns.
func (s *Store) EachLiveSession(ctx context.Context, now time.Time, fn func(domain.Session) error) error {
	after := ""
	for {
		rows, err := s.reads.LiveSessionsAfter(ctx, sqlcgen.LiveSessionsAfterParams{After: after, Now: now.UnixMilli(), PageSize: exportPage})
		if err != nil {
			return translate(ctx, "export sessions", err)
		}
		for _, r := range rows {
			if err := fn(sessionFromRow(r)); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// EachPasskey calls fn with every passkey, in id order, until fn returns an
// error, which it returns.
func (s *Store) EachPasskey(ctx context.Context, fn func(domain.Passkey) error) error {
	after := ""
	for {
		rows, err := s.reads.PasskeysAfter(ctx, sqlcgen.PasskeysAfterParams{After: after, PageSize: exportPage})
		if err != nil {
			return translate(ctx, "export passkeys", err)
		}
		for _, r := range rows {
			if err := fn(passkeyFromRow(r)); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
