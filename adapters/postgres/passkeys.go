package postgres

import (
	"bytes"
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.PasskeyStore = (*Store)(nil)

// Every change of an account's passkeys locks the account's row first, so
// that the changes of one account take turns across replicas: the count
// that AddPasskey checks holds until it commits, and a sign count read by
// UpdatePasskey is the newest. Taking the account's lock before the
// passkey's, as deleting the account does, keeps them from deadlocking.

// AddPasskey stores a new passkey with its effects, unless its account is
// gone, already has domain.MaxPasskeys, or the credential is registered.
func (s *Store) AddPasskey(ctx context.Context, p domain.Passkey, fx ports.Effects) error {
	if !storable(p.UserID) {
		return domain.ErrUserNotFound
	}
	var refused error
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		owner, err := q.LockUserByID(ctx, p.UserID)
		if err != nil {
			return err
		}
		// Another account may register the credential at the same moment,
		// under its own lock: the UNIQUE constraint refuses the second,
		// and translate reports it as this check would.
		if _, err := q.GetPasskeyByCredentialID(ctx, p.CredentialID); err == nil {
			refused = domain.ErrPasskeyExists
			return refused
		} else if !notFound(err) {
			return err
		}
		n, err := q.CountPasskeysOfUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		if n >= domain.MaxPasskeys {
			refused = domain.ErrTooManyPasskeys
			return refused
		}
		if err := q.CreatePasskey(ctx, passkeyParams(p)); err != nil {
			return err
		}
		return applyEffects(ctx, q, userFromRow(owner), fx)
	})
	if refused != nil {
		return refused
	}
	return translate(ctx, "add passkey", err)
}

// Passkeys returns the account's passkeys, oldest first; none for an
// unknown account.
func (s *Store) Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error) {
	if !storable(userID) {
		return []domain.Passkey{}, nil
	}
	rows, err := s.db.q.PasskeysOfUser(ctx, userID)
	if err != nil {
		return nil, translate(ctx, "list passkeys", err)
	}
	passkeys := make([]domain.Passkey, len(rows))
	for i, r := range rows {
		passkeys[i] = passkeyFromRow(r)
	}
	return passkeys, nil
}

// PasskeyByCredentialID returns the passkey with the credential id, or
// domain.ErrPasskeyNotFound.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error) {
	row, err := s.db.q.GetPasskeyByCredentialID(ctx, credentialID)
	if notFound(err) {
		return domain.Passkey{}, domain.ErrPasskeyNotFound
	}
	if err != nil {
		return domain.Passkey{}, translate(ctx, "get passkey by credential id", err)
	}
	return passkeyFromRow(row), nil
}

// UpdatePasskey locks the account's passkey, applies update and saves what
// a use or a renaming changes, with update's effects, in one transaction.
// It returns the passkey as saved: a change update made to the credential
// itself is neither saved nor returned.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id string, update func(*domain.Passkey) (ports.Effects, error)) (domain.Passkey, error) {
	if !storable(userID) || !storable(id) {
		return domain.Passkey{}, domain.ErrPasskeyNotFound
	}
	var (
		saved     domain.Passkey
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		owner, row, err := lockPasskeyOfUser(ctx, q, userID, id)
		if err != nil {
			return err
		}
		p := passkeyFromRow(row)
		var fx ports.Effects
		if fx, updateErr = update(&p); updateErr != nil {
			return updateErr
		}
		row.Name = p.Name
		row.SignCount = int64(p.SignCount)
		row.BackupState = p.BackupState
		row.LastUsedAt = optTime(p.LastUsedAt)
		n, err := q.UpdatePasskey(ctx, sqlcgen.UpdatePasskeyParams{
			ID: row.ID, Name: row.Name, SignCount: row.SignCount, BackupState: row.BackupState, LastUsedAt: row.LastUsedAt,
		})
		if err != nil {
			return err
		}
		if n != 1 {
			// The row is locked by this transaction, so it cannot have gone.
			return pgx.ErrNoRows
		}
		saved = passkeyFromRow(row)
		return applyEffects(ctx, q, userFromRow(owner), fx)
	})
	switch {
	case updateErr != nil:
		return domain.Passkey{}, updateErr
	case notFound(err):
		return domain.Passkey{}, domain.ErrPasskeyNotFound
	case err != nil:
		return domain.Passkey{}, translate(ctx, "update passkey", err)
	}
	return saved, nil
}

// DeletePasskey deletes the account's passkey with the effects fx returns
// for it, in one transaction. fx's error is returned as it is, and nothing
// is deleted.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string, fx func(domain.Passkey) (ports.Effects, error)) error {
	if !storable(userID) || !storable(id) {
		return domain.ErrPasskeyNotFound
	}
	var fxErr error
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		owner, row, err := lockPasskeyOfUser(ctx, q, userID, id)
		if err != nil {
			return err
		}
		var effects ports.Effects
		if effects, fxErr = fx(passkeyFromRow(row)); fxErr != nil {
			return fxErr
		}
		if _, err := q.DeletePasskey(ctx, id); err != nil {
			return err
		}
		return applyEffects(ctx, q, userFromRow(owner), effects)
	})
	switch {
	case fxErr != nil:
		return fxErr
	case notFound(err):
		return domain.ErrPasskeyNotFound
	}
	return translate(ctx, "delete passkey", err)
}

// lockPasskeyOfUser locks the account and then its passkey with id, and
// returns both. It returns pgx.ErrNoRows for another account's passkey, as
// for a missing one.
func lockPasskeyOfUser(ctx context.Context, q *sqlcgen.Queries, userID, id string) (sqlcgen.User, sqlcgen.Passkey, error) {
	owner, err := q.LockUserByID(ctx, userID)
	if err != nil {
		return sqlcgen.User{}, sqlcgen.Passkey{}, err
	}
	row, err := q.LockPasskeyOfUser(ctx, sqlcgen.LockPasskeyOfUserParams{ID: id, UserID: userID})
	return owner, row, err
}

// passkeyFromRow is the one conversion from a stored row to a passkey.
// The passkey's slices are its own, not the row's: UpdatePasskey hands one
// conversion of a row to update and returns another, and what update does
// to the first must not show in the second.
func passkeyFromRow(r sqlcgen.Passkey) domain.Passkey {
	return domain.Passkey{
		ID:                r.ID,
		UserID:            r.UserID,
		CredentialID:      bytes.Clone(r.CredentialID),
		PublicKey:         bytes.Clone(r.PublicKey),
		AttestationType:   r.AttestationType,
		AttestationFormat: r.AttestationFormat,
		AAGUID:            nonEmpty(bytes.Clone(r.Aaguid)),
		SignCount:         uint32(r.SignCount),
		Transports:        slices.Clone(r.Transports),
		Attachment:        r.Attachment,
		UserVerified:      r.UserVerified,
		BackupEligible:    r.BackupEligible,
		BackupState:       r.BackupState,
		Name:              r.Name,
		CreatedAt:         r.CreatedAt.UTC(),
		LastUsedAt:        fromOpt(r.LastUsedAt),
	}
}

// passkeyParams is the one conversion from a passkey to query parameters.
// An import copies passkeys with the same parameters, in the same order
// (db/postgres/queries/passkeys.sql keeps them so), which lets the result
// convert to sqlcgen.ImportPasskeysParams.
func passkeyParams(p domain.Passkey) sqlcgen.CreatePasskeyParams {
	transports := p.Transports
	if transports == nil {
		// pgx sends a nil slice as NULL; the column holds an empty array.
		transports = []string{}
	}
	return sqlcgen.CreatePasskeyParams{
		ID:                p.ID,
		UserID:            p.UserID,
		CredentialID:      p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Aaguid:            nonEmpty(p.AAGUID),
		SignCount:         int64(p.SignCount),
		Transports:        transports,
		Attachment:        p.Attachment,
		UserVerified:      p.UserVerified,
		BackupEligible:    p.BackupEligible,
		BackupState:       p.BackupState,
		Name:              p.Name,
		CreatedAt:         ms(p.CreatedAt),
		LastUsedAt:        optTime(p.LastUsedAt),
	}
}
