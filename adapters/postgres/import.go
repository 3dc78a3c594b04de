package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
)

// ImportSource is where an import reads accounts, their passkeys and
// sessions from, such as the SQLite store of an installation that moves to
// PostgreSQL.
type ImportSource interface {
	EachUser(ctx context.Context, fn func(domain.User) error) error
	EachPasskey(ctx context.Context, fn func(domain.Passkey) error) error
	EachLiveSession(ctx context.Context, now time.Time, fn func(domain.Session) error) error
}

// ErrNotEmpty reports an import into a database that holds accounts.
var ErrNotEmpty = errors.New("the database already holds accounts")

// Imported counts what an import copied.
type Imported struct {
	Users, Passkeys, Sessions int
}

// importBatch is how many rows one COPY carries.
const importBatch = 1000

// Import copies every account of source, its passkeys and its sessions
// live at now into this database, which must hold no account, in one
// transaction: all of it or, on any error, nothing. Accounts keep their
// ids, password hashes, pending codes and second factors, passkeys their
// credentials and counters, and sessions their refresh tokens, so that
// users notice nothing. The users table is locked meanwhile, so that no replica creates
// an account between the check and the copy.
func (s *Store) Import(ctx context.Context, source ImportSource, now time.Time) (Imported, error) {
	var done Imported
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		if err := q.LockUsersForImport(ctx); err != nil {
			return err
		}
		n, err := q.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w (%d)", ErrNotEmpty, n)
		}
		users := make([]sqlcgen.ImportUsersParams, 0, importBatch)
		flushUsers := func() error {
			n, err := q.ImportUsers(ctx, users)
			done.Users += int(n)
			users = users[:0]
			return err
		}
		err = source.EachUser(ctx, func(u domain.User) error {
			users = append(users, sqlcgen.ImportUsersParams(userParams(u)))
			if len(users) == importBatch {
				return flushUsers()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flushUsers(); err != nil {
			return err
		}
		passkeys := make([]sqlcgen.ImportPasskeysParams, 0, importBatch)
		flushPasskeys := func() error {
			n, err := q.ImportPasskeys(ctx, passkeys)
			done.Passkeys += int(n)
			passkeys = passkeys[:0]
			return err
		}
		err = source.EachPasskey(ctx, func(p domain.Passkey) error {
			passkeys = append(passkeys, sqlcgen.ImportPasskeysParams(passkeyParams(p)))
			if len(passkeys) == importBatch {
				return flushPasskeys()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flushPasskeys(); err != nil {
			return err
		}
		sessions := make([]sqlcgen.ImportSessionsParams, 0, importBatch)
		flushSessions := func() error {
			n, err := q.ImportSessions(ctx, sessions)
			done.Sessions += int(n)
			sessions = sessions[:0]
			return err
		}
		err = source.EachLiveSession(ctx, now, func(sess domain.Session) error {
			sessions = append(sessions, sqlcgen.ImportSessionsParams{
				ID:                     sess.ID,
				UserID:                 sess.UserID,
				CreatedAt:              ms(sess.CreatedAt),
				LastUsedAt:             ms(sess.LastUsedAt),
				ExpiresAt:              ms(sess.ExpiresAt),
				RevokedAt:              optTime(sess.RevokedAt),
				UserAgent:              sess.UserAgent,
				Ip:                     sess.IP,
				RefreshTokenID:         sess.RefreshTokenID,
				PreviousRefreshTokenID: sess.PreviousRefreshTokenID,
				RotatedAt:              optTime(sess.RotatedAt),
				Amr:                    joinAMR(sess.AMR),
				SecondFactorAt:         optTime(sess.SecondFactorAt),
			})
			if len(sessions) == importBatch {
				return flushSessions()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flushSessions()
	})
	if errors.Is(err, ErrNotEmpty) {
		return Imported{}, err
	}
	if err != nil {
		return Imported{}, translate(ctx, "import", err)
	}
	return done, nil
}
