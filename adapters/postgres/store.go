package postgres

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.UserStore = (*Store)(nil)

// errIdentityChanged reports an update function that changed the id or email
// of the account it was given; the store saves by id and looks up by email, so
// it refuses rather than save something it could not find again.
var errIdentityChanged = errors.New("postgres: update user: the update changed the account's id or email")

// Store is the ports.UserStore, ports.SessionStore and ports.Outbox on a DB.
type Store struct {
	db *DB
	// users and sessions share the reads of concurrent lookups by id: the
	// reads every authenticated request and every refresh makes.
	users    *coalescer[string, sqlcgen.User]
	sessions *coalescer[string, sqlcgen.GetSessionsWithUsersRow]
}

// NewStore returns a store on db, which must have been migrated.
func NewStore(db *DB) *Store {
	return &Store{
		db: db,
		users: &coalescer[string, sqlcgen.User]{
			read:       db.usersByID,
			maxReading: maxReading, maxBatch: maxBatch, timeout: sharedReadTimeout,
		},
		sessions: &coalescer[string, sqlcgen.GetSessionsWithUsersRow]{
			read:       db.sessionsWithUsers,
			maxReading: maxReading, maxBatch: maxBatch, timeout: sharedReadTimeout,
		},
	}
}

// usersByID reads the accounts with ids: one alone with the point query, as
// without coalescing, several with one query for all.
func (db *DB) usersByID(ctx context.Context, ids []string) (map[string]sqlcgen.User, error) {
	if len(ids) == 1 {
		row, err := db.q.GetUserByID(ctx, ids[0])
		return single(row.ID, row, err)
	}
	rows, err := db.q.GetUsersByIDs(ctx, ids)
	return byKey(rows, func(r sqlcgen.User) string { return r.ID }), err
}

// sessionsWithUsers reads the sessions with ids and their accounts, as
// usersByID reads accounts.
func (db *DB) sessionsWithUsers(ctx context.Context, ids []string) (map[string]sqlcgen.GetSessionsWithUsersRow, error) {
	if len(ids) == 1 {
		row, err := db.q.GetSessionWithUser(ctx, ids[0])
		return single(row.Session.ID, sqlcgen.GetSessionsWithUsersRow(row), err)
	}
	rows, err := db.q.GetSessionsWithUsers(ctx, ids)
	return byKey(rows, func(r sqlcgen.GetSessionsWithUsersRow) string { return r.Session.ID }), err
}

// byKey indexes rows by key.
func byKey[K comparable, V any](rows []V, key func(V) K) map[K]V {
	m := make(map[K]V, len(rows))
	for _, r := range rows {
		m[key(r)] = r
	}
	return m
}

// single is a point query's answer as a read's: found, not found (no row),
// or failed.
func single[V any](key string, row V, err error) (map[string]V, error) {
	switch {
	case notFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return map[string]V{key: row}, nil
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
	if !storable(id) {
		return domain.ErrUserNotFound
	}
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, err := q.DeleteUser(ctx, id)
		if err != nil {
			return err
		}
		return applyEffects(ctx, q, userFromRow(row), fx)
	})
	return translate(ctx, "delete user", err)
}

// UserByEmail returns the account with email, or domain.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	if !storable(string(email)) {
		return domain.User{}, domain.ErrUserNotFound
	}
	row, err := s.db.q.GetUserByEmail(ctx, string(email))
	if err != nil {
		return domain.User{}, translate(ctx, "get user by email", err)
	}
	return userFromRow(row), nil
}

// UserByID returns the account with id, or domain.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (domain.User, error) {
	if !storable(id) {
		return domain.User{}, domain.ErrUserNotFound
	}
	row, found, err := s.users.get(ctx, id)
	if err != nil {
		return domain.User{}, translate(ctx, "get user by id", err)
	}
	if !found {
		return domain.User{}, domain.ErrUserNotFound
	}
	return userFromRow(row), nil
}

// UpdateUser locks the account that key names, applies update, and saves the
// result with the effects update returns, all in one transaction. Concurrent
// updates of the account, from this process or another, wait for the lock.
// update's error is returned as it is, and nothing is saved.
func (s *Store) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	if !storable(key.ID()) || !storable(string(key.Email())) {
		return domain.User{}, domain.ErrUserNotFound
	}
	var (
		saved     domain.User
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		var row sqlcgen.User
		var err error
		if id := key.ID(); id != "" {
			row, err = q.LockUserByID(ctx, id)
		} else {
			row, err = q.LockUserByEmail(ctx, string(key.Email()))
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
			// The row is locked by this transaction, so it cannot have gone.
			return pgx.ErrNoRows
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

// applyEffects saves what a change of u brings with it, inside the change's
// transaction.
func applyEffects(ctx context.Context, q *sqlcgen.Queries, u domain.User, fx ports.Effects) error {
	if end := fx.EndSessions; end != nil {
		_, err := q.RevokeSessions(ctx, sqlcgen.RevokeSessionsParams{UserID: u.ID, Now: ms(end.At), ExceptID: end.Except})
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

// CountUsers returns how many accounts there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	n, err := s.db.q.CountUsers(ctx)
	if err != nil {
		return 0, translate(ctx, "count users", err)
	}
	return int(n), nil
}

// userFromRow is the one conversion from a stored row to an account.
func userFromRow(r sqlcgen.User) domain.User {
	return domain.User{
		ID:           r.ID,
		Email:        domain.Email(r.Email),
		FirstName:    r.FirstName,
		LastName:     r.LastName,
		PasswordHash: r.PasswordHash,
		Active:       r.IsActive,
		Activation: domain.OneTimeCode{
			CodeHash:  nonEmpty(r.ActivationCodeHash),
			LinkHash:  nonEmpty(r.ActivationLinkHash),
			ExpiresAt: fromOpt(r.ActivationExpiresAt),
			Attempts:  int(r.ActivationAttempts),
		},
		PasswordReset: domain.OneTimeCode{
			CodeHash:  nonEmpty(r.ResetCodeHash),
			LinkHash:  nonEmpty(r.ResetLinkHash),
			ExpiresAt: fromOpt(r.ResetExpiresAt),
			Attempts:  int(r.ResetAttempts),
		},
		WrongCodes: domain.WrongCodes{N: int(r.WrongCodes), At: fromOpt(r.WrongCodesAt)},
		Unlock: domain.PendingLink{
			Hash:      nonEmpty(r.UnlockLinkHash),
			ExpiresAt: fromOpt(r.UnlockExpiresAt),
		},
		CreatedAt:   r.CreatedAt.UTC(),
		UpdatedAt:   r.UpdatedAt.UTC(),
		ActivatedAt: fromOpt(r.ActivatedAt),
		DisabledAt:  fromOpt(r.DisabledAt),
		LastLoginAt: fromOpt(r.LastLoginAt),
		MFA: domain.MFA{
			TOTPSecret:        nonEmpty(r.TotpSecret),
			TOTPEnabledAt:     fromOpt(r.TotpEnabledAt),
			PendingTOTPSecret: nonEmpty(r.PendingTotpSecret),
			PendingTOTPAt:     fromOpt(r.PendingTotpAt),
			LastTOTPStep:      r.TotpLastStep,
			RecoveryCodes:     splitHashes(r.RecoveryCodes),
		},
	}
}

// userParams is the one conversion from an account to query parameters.
// UpdateUser takes the same parameters as CreateUser, in the same order
// (db/postgres/queries/users.sql keeps them so), which lets the result
// convert to sqlcgen.UpdateUserParams; the compiler rejects the conversion
// if the two queries ever drift apart.
func userParams(u domain.User) sqlcgen.CreateUserParams {
	return sqlcgen.CreateUserParams{
		ID:                  u.ID,
		Email:               string(u.Email),
		FirstName:           u.FirstName,
		LastName:            u.LastName,
		PasswordHash:        u.PasswordHash,
		IsActive:            u.Active,
		ActivationCodeHash:  nonEmpty(u.Activation.CodeHash),
		ActivationExpiresAt: optTime(u.Activation.ExpiresAt),
		ActivationAttempts:  int32(u.Activation.Attempts),
		CreatedAt:           ms(u.CreatedAt),
		UpdatedAt:           ms(u.UpdatedAt),
		ActivatedAt:         optTime(u.ActivatedAt),
		ResetCodeHash:       nonEmpty(u.PasswordReset.CodeHash),
		ResetExpiresAt:      optTime(u.PasswordReset.ExpiresAt),
		ResetAttempts:       int32(u.PasswordReset.Attempts),
		ActivationLinkHash:  nonEmpty(u.Activation.LinkHash),
		ResetLinkHash:       nonEmpty(u.PasswordReset.LinkHash),
		WrongCodes:          int32(u.WrongCodes.N),
		WrongCodesAt:        optTime(u.WrongCodes.At),
		UnlockLinkHash:      nonEmpty(u.Unlock.Hash),
		UnlockExpiresAt:     optTime(u.Unlock.ExpiresAt),
		DisabledAt:          optTime(u.DisabledAt),
		LastLoginAt:         optTime(u.LastLoginAt),
		LoginKey:            loginKey("account", string(u.Email)),
		TotpSecret:          nonEmpty(u.MFA.TOTPSecret),
		TotpEnabledAt:       optTime(u.MFA.TOTPEnabledAt),
		PendingTotpSecret:   nonEmpty(u.MFA.PendingTOTPSecret),
		PendingTotpAt:       optTime(u.MFA.PendingTOTPAt),
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

// storable reports whether a text column can hold s: PostgreSQL text is
// UTF-8 without NUL bytes. A key that it cannot hold names nothing stored,
// so a lookup by it finds nothing, as SQLite's would, instead of failing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// nonEmpty maps an empty byte slice to nil, which is stored as NULL: "no code
// pending" has one representation.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ms is t as stored: UTC, at millisecond precision, the precision both
// engines keep.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// optTime stores the zero time, meaning "not set", as NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ms(t)
	return &v
}

// fromOpt reads a nullable time; NULL is the zero time.
func fromOpt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// notFound reports whether err is "no such row", for callers that turn it
// into their own not-found error.
func notFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
