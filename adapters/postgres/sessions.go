package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.SessionStore = (*Store)(nil)

// CreateSession stores a new session, records it as the account's last
// login and saves events, in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session, events ...domain.AuditEvent) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		err := q.CreateSession(ctx, sqlcgen.CreateSessionParams{
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
		if err != nil {
			return err
		}
		if err := q.RecordLogin(ctx, sqlcgen.RecordLoginParams{ID: sess.UserID, At: ms(sess.CreatedAt)}); err != nil {
			return err
		}
		return recordEvents(ctx, q, events)
	})
	return translate(ctx, "create session", err)
}

// Session reads a session. Every replica reads the one row, so a session
// ended on one replica is ended on all at once.
func (s *Store) Session(ctx context.Context, id string) (domain.Session, error) {
	if !storable(id) {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	row, err := s.db.q.GetSession(ctx, id)
	if err != nil {
		return domain.Session{}, translateSession(ctx, "get session", err)
	}
	return sessionFromRow(row), nil
}

// SessionWithUser reads a session and its account in one query: one round
// trip for what a refresh checks.
func (s *Store) SessionWithUser(ctx context.Context, id string) (domain.Session, domain.User, error) {
	if !storable(id) {
		return domain.Session{}, domain.User{}, domain.ErrSessionNotFound
	}
	row, found, err := s.sessions.get(ctx, id)
	if err != nil {
		return domain.Session{}, domain.User{}, translateSession(ctx, "get session with user", err)
	}
	if !found {
		return domain.Session{}, domain.User{}, domain.ErrSessionNotFound
	}
	return sessionFromRow(row.Session), userFromRow(row.User), nil
}

// UpdateSession locks, changes and saves a session in one transaction.
func (s *Store) UpdateSession(ctx context.Context, id string, update func(*domain.Session) ([]domain.AuditEvent, error)) (domain.Session, error) {
	if !storable(id) {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	var (
		saved     domain.Session
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, err := q.LockSession(ctx, id)
		if err != nil {
			return err
		}
		sess := sessionFromRow(row)
		var events []domain.AuditEvent
		if events, updateErr = update(&sess); updateErr != nil {
			return updateErr
		}
		n, err := q.UpdateSession(ctx, sqlcgen.UpdateSessionParams{
			ID:                     row.ID,
			LastUsedAt:             ms(sess.LastUsedAt),
			RevokedAt:              optTime(sess.RevokedAt),
			RefreshTokenID:         sess.RefreshTokenID,
			PreviousRefreshTokenID: sess.PreviousRefreshTokenID,
			RotatedAt:              optTime(sess.RotatedAt),
			SecondFactorAt:         optTime(sess.SecondFactorAt),
		})
		if err == nil && n != 1 {
			err = pgx.ErrNoRows
		}
		if err != nil {
			return err
		}
		saved = sess
		return recordEvents(ctx, q, events)
	})
	switch {
	case updateErr != nil:
		return domain.Session{}, updateErr
	case err != nil:
		return domain.Session{}, translateSession(ctx, "update session", err)
	}
	return saved, nil
}

// SessionsOfUser returns the user's live sessions, newest first.
func (s *Store) SessionsOfUser(ctx context.Context, userID string, now time.Time) ([]domain.Session, error) {
	if !storable(userID) {
		return []domain.Session{}, nil
	}
	rows, err := s.db.q.LiveSessionsOfUser(ctx, sqlcgen.LiveSessionsOfUserParams{UserID: userID, Now: ms(now)})
	if err != nil {
		return nil, translate(ctx, "list sessions", err)
	}
	sessions := make([]domain.Session, len(rows))
	for i, r := range rows {
		sessions[i] = sessionFromRow(r)
	}
	return sessions, nil
}

// RevokeSessions ends the user's live sessions but one, and saves events,
// in one transaction.
func (s *Store) RevokeSessions(ctx context.Context, userID string, now time.Time, except string, events ...domain.AuditEvent) (int, error) {
	if !storable(userID) {
		return 0, nil
	}
	if !storable(except) {
		// No session has such an id, so none is spared.
		except = ""
	}
	var n int64
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		var err error
		n, err = q.RevokeSessions(ctx, sqlcgen.RevokeSessionsParams{UserID: userID, Now: ms(now), ExceptID: except})
		if err != nil {
			return err
		}
		return recordEvents(ctx, q, events)
	})
	if err != nil {
		return 0, translate(ctx, "revoke sessions", err)
	}
	return int(n), nil
}

// translateSession is translate with "no row" meaning no such session.
func translateSession(ctx context.Context, op string, err error) error {
	if notFound(err) {
		return domain.ErrSessionNotFound
	}
	return translate(ctx, op, err)
}

// sessionFromRow is the one conversion from a stored row to a session.
func sessionFromRow(r sqlcgen.Session) domain.Session {
	return domain.Session{
		ID:                     r.ID,
		UserID:                 r.UserID,
		CreatedAt:              r.CreatedAt.UTC(),
		LastUsedAt:             r.LastUsedAt.UTC(),
		ExpiresAt:              r.ExpiresAt.UTC(),
		RevokedAt:              fromOpt(r.RevokedAt),
		UserAgent:              r.UserAgent,
		IP:                     r.Ip,
		RefreshTokenID:         r.RefreshTokenID,
		PreviousRefreshTokenID: r.PreviousRefreshTokenID,
		RotatedAt:              fromOpt(r.RotatedAt),
		AMR:                    strings.Fields(r.Amr),
		SecondFactorAt:         fromOpt(r.SecondFactorAt),
	}
}

// joinAMR stores the methods of a login, separated by spaces; a session
// from before they were kept is a password login.
func joinAMR(amr []string) string {
	if len(amr) == 0 {
		return domain.AMRPassword
	}
	return strings.Join(amr, " ")
}
