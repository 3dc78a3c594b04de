package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.UserStore = (*Store)(nil)

// errIdentityChanged reports an update function that changed the id or email
// of the account it was given; the store saves by id and looks up by email, so
// it refuses rather than save something it could not find again.
var errIdentityChanged = errors.New("sqlite: update user: the update changed the account's id or email")

// Store is the ports.UserStore on a DB. Reads use the reader pool; writes use
// the single writer connection.
type Store struct {
	db     *DB
	reads  *sqlcgen.Queries
	writes *sqlcgen.Queries
}

// NewStore returns a store on db, which must have been migrated. It prepares
// the read queries once, up front: SQLite would otherwise parse and plan the
// SQL on every call, which costs more than the lookup by key itself. Writes
// wait for the disk far longer than they spend parsing, and go through the
// writer pool that watches for write failures, so they are not prepared. The
// statements live as long as db.
func NewStore(ctx context.Context, db *DB) (*Store, error) {
	reads, err := sqlcgen.Prepare(ctx, db.reader)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare queries: %w", err)
	}
	return &Store{db: db, reads: reads, writes: sqlcgen.New(db.writer)}, nil
}

// CreateUser stores u with its effects in one transaction, or returns
// domain.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u domain.User, fx ports.Effects) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		if err := q.CreateUser(ctx, userParams(u)); err != nil {
			return err
		}
		return applyEffects(ctx, q, u, fx)
	})
	return translate(ctx, "create user", err)
}

// DeleteUser deletes the account with id, its sessions with it (the foreign
// key cascades), and saves fx, or returns domain.ErrUserNotFound.
func (s *Store) DeleteUser(ctx context.Context, id string, fx ports.Effects) error {
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, err := q.GetUserByID(ctx, id)
		if err != nil {
			return err
		}
		if _, err := q.DeleteUser(ctx, id); err != nil {
			return err
		}
		return applyEffects(ctx, q, userFromRow(row), fx)
	})
	return translate(ctx, "delete user", err)
}

// UserByEmail returns the account with email, or domain.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	row, err := s.reads.GetUserByEmail(pointRead(ctx), string(email))
	if err != nil {
		return domain.User{}, translate(ctx, "get user by email", err)
	}
	return userFromRow(row), nil
}

// UserByID returns the account with id, or domain.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (domain.User, error) {
	row, err := s.reads.GetUserByID(pointRead(ctx), id)
	if err != nil {
		return domain.User{}, translate(ctx, "get user by id", err)
	}
	return userFromRow(row), nil
}

// UpdateUser loads the account that key names, applies update, and saves the
// result with the effects update returns, all in one write transaction.
// update's error is returned as it is, and nothing is saved. update runs while
// the writer connection is held, so it must be quick and must not write
// through this store.
func (s *Store) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	var (
		saved     domain.User
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		var row sqlcgen.User
		var err error
		if id := key.ID(); id != "" {
			row, err = q.GetUserByID(ctx, id)
		} else {
			row, err = q.GetUserByEmail(ctx, string(key.Email()))
		}
		if err != nil {
			return err
		}
		u := userFromRow(row)
		var fx ports.Effects
		if fx, updateErr = update(&u); updateErr != nil {
			return updateErr
		}
		if u.ID != row.ID || string(u.Email) != row.Email {
			return errIdentityChanged
		}
		n, err := q.UpdateUser(ctx, sqlcgen.UpdateUserParams(userParams(u)))
		if err != nil {
			return err
		}
		if n != 1 {
			// The row was read in this transaction, so it cannot have gone.
			return sql.ErrNoRows
		}
		saved = u
		return applyEffects(ctx, q, u, fx)
	})
	switch {
	case updateErr != nil:
		return domain.User{}, updateErr
	case errors.Is(err, errIdentityChanged):
		return domain.User{}, err
	case err != nil:
		return domain.User{}, translate(ctx, "update user", err)
	}
	return saved, nil
}

// CountUsers returns how many accounts there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	n, err := s.reads.CountUsers(ctx)
	if err != nil {
		return 0, translate(ctx, "count users", err)
	}
	return int(n), nil
}

// applyEffects saves what a change of u brings with it, inside the change's
// transaction.
func applyEffects(ctx context.Context, q *sqlcgen.Queries, u domain.User, fx ports.Effects) error {
	if end := fx.EndSessions; end != nil {
		_, err := q.RevokeSessions(ctx, sqlcgen.RevokeSessionsParams{UserID: u.ID, Now: end.At.UnixMilli(), ExceptID: end.Except})
		if err != nil {
			return err
		}
	}
	if fx.LiftLoginLock {
		if err := liftLoginLock(ctx, q, u.Email); err != nil {
			return err
		}
	}
	if err := recordEvents(ctx, q, fx.Events); err != nil {
		return err
	}
	return queueMail(ctx, q, fx.Mail)
}

// pointRead is the context for a lookup by key, detached from ctx's
// cancellation. Such a read finishes sooner than a cancelled request could
// stop it, and the SQLite driver watches a cancellable context with a
// goroutine per query, which costs a good part of so short a read.
func pointRead(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// userFromRow is the one conversion from a stored row to an account.
func userFromRow(r sqlcgen.User) domain.User {
	return domain.User{
		ID:           r.ID,
		Email:        domain.Email(r.Email),
		FirstName:    r.FirstName,
		LastName:     r.LastName,
		PasswordHash: r.PasswordHash,
		Active:       r.IsActive != 0,
		Activation: domain.OneTimeCode{
			CodeHash:  nonEmpty(r.ActivationCodeHash),
			LinkHash:  nonEmpty(r.ActivationLinkHash),
			ExpiresAt: timeFromNull(r.ActivationExpiresAt),
			Attempts:  int(r.ActivationAttempts),
		},
		PasswordReset: domain.OneTimeCode{
			CodeHash:  nonEmpty(r.ResetCodeHash),
			LinkHash:  nonEmpty(r.ResetLinkHash),
			ExpiresAt: timeFromNull(r.ResetExpiresAt),
			Attempts:  int(r.ResetAttempts),
		},
		WrongCodes: domain.WrongCodes{N: int(r.WrongCodes), At: timeFromNull(r.WrongCodesAt)},
		Unlock: domain.PendingLink{
			Hash:      nonEmpty(r.UnlockLinkHash),
			ExpiresAt: timeFromNull(r.UnlockExpiresAt),
		},
		CreatedAt:   timeFromMillis(r.CreatedAt),
		UpdatedAt:   timeFromMillis(r.UpdatedAt),
		ActivatedAt: timeFromNull(r.ActivatedAt),
		DisabledAt:  timeFromNull(r.DisabledAt),
		LastLoginAt: timeFromNull(r.LastLoginAt),
		MFA: domain.MFA{
			TOTPSecret:        nonEmpty(r.TotpSecret),
			TOTPEnabledAt:     timeFromNull(r.TotpEnabledAt),
			PendingTOTPSecret: nonEmpty(r.PendingTotpSecret),
			PendingTOTPAt:     timeFromNull(r.PendingTotpAt),
			LastTOTPStep:      r.TotpLastStep,
			RecoveryCodes:     splitHashes(r.RecoveryCodes),
		},
	}
}

// userParams is the one conversion from an account to query parameters.
// UpdateUser takes the same parameters as CreateUser, in the same order
// (db/sqlite/queries/users.sql keeps them so), which lets the result convert to
// sqlcgen.UpdateUserParams; the compiler rejects the conversion if the two
// queries ever drift apart.
func userParams(u domain.User) sqlcgen.CreateUserParams {
	active := int64(0)
	if u.Active {
		active = 1
	}
	return sqlcgen.CreateUserParams{
		ID:                  u.ID,
		Email:               string(u.Email),
		FirstName:           u.FirstName,
		LastName:            u.LastName,
		PasswordHash:        u.PasswordHash,
		IsActive:            active,
		ActivationCodeHash:  nonEmpty(u.Activation.CodeHash),
		ActivationExpiresAt: nullFromTime(u.Activation.ExpiresAt),
		ActivationAttempts:  int64(u.Activation.Attempts),
		CreatedAt:           u.CreatedAt.UnixMilli(),
		UpdatedAt:           u.UpdatedAt.UnixMilli(),
		ActivatedAt:         nullFromTime(u.ActivatedAt),
		ResetCodeHash:       nonEmpty(u.PasswordReset.CodeHash),
		ResetExpiresAt:      nullFromTime(u.PasswordReset.ExpiresAt),
		ResetAttempts:       int64(u.PasswordReset.Attempts),
		ActivationLinkHash:  nonEmpty(u.Activation.LinkHash),
		ResetLinkHash:       nonEmpty(u.PasswordReset.LinkHash),
		WrongCodes:          int64(u.WrongCodes.N),
		WrongCodesAt:        nullFromTime(u.WrongCodes.At),
		UnlockLinkHash:      nonEmpty(u.Unlock.Hash),
		UnlockExpiresAt:     nullFromTime(u.Unlock.ExpiresAt),
		DisabledAt:          nullFromTime(u.DisabledAt),
		LastLoginAt:         nullFromTime(u.LastLoginAt),
		LoginKey:            loginKey("account", string(u.Email)),
		TotpSecret:          nonEmpty(u.MFA.TOTPSecret),
		TotpEnabledAt:       nullFromTime(u.MFA.TOTPEnabledAt),
		PendingTotpSecret:   nonEmpty(u.MFA.PendingTOTPSecret),
		PendingTotpAt:       nullFromTime(u.MFA.PendingTOTPAt),
		TotpLastStep:        u.MFA.LastTOTPStep,
		RecoveryCodes:       joinHashes(u.MFA.RecoveryCodes),
	}
}

// hashSize is the size of each stored recovery code hash.
const hashSize = 32

// joinHashes stores a list of hashes in one column, one after another; an
// empty list is NULL.
func joinHashes(hashes [][]byte) []byte {
	if len(hashes) == 0 {
		return nil
	}
	out := make([]byte, 0, len(hashes)*hashSize)
	for _, h := range hashes {
		out = append(out, h...)
	}
	return out
}

// splitHashes reads what joinHashes stored.
func splitHashes(b []byte) [][]byte {
	var hashes [][]byte
	for len(b) >= hashSize {
		hashes = append(hashes, b[:hashSize:hashSize])
		b = b[hashSize:]
	}
	return hashes
}

// nonEmpty maps an empty byte slice to nil, which is stored as NULL: "no code
// pending" has one representation.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func timeFromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullFromTime stores the zero time, meaning "not set", as NULL.
func nullFromTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func timeFromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return timeFromMillis(n.Int64)
}
