package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.PasskeyStore = (*Store)(nil)

// AddPasskey stores a new passkey with its effects, unless its account is
// gone, already has domain.MaxPasskeys, or the credential is registered.
// The checks and the insert share one write transaction, and write
// transactions take turns (the writer is one connection that begins them
// IMMEDIATE, which holds for other processes too), so concurrent additions
// cannot together pass the bound.
func (s *Store) AddPasskey(ctx context.Context, p domain.Passkey, fx ports.Effects) error {
	var refused error
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		owner, err := q.GetUserByID(ctx, p.UserID)
		if err != nil {
			return err
		}
		if _, err := q.GetPasskeyByCredentialID(ctx, p.CredentialID); err == nil {
			refused = domain.ErrPasskeyExists
			return refused
		} else if !errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.reads.PasskeysOfUser(pointRead(ctx), userID)
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
	row, err := s.reads.GetPasskeyByCredentialID(pointRead(ctx), credentialID)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Passkey{}, domain.ErrPasskeyNotFound
	}
	if err != nil {
		return domain.Passkey{}, translate(ctx, "get passkey by credential id", err)
	}
	return passkeyFromRow(row), nil
}

// UpdatePasskey loads the account's passkey, applies update and saves what
// a use or a renaming changes, with update's effects, in one write
// transaction. It returns the passkey as saved: a change update made to
// the credential itself is neither saved nor returned.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id string, update func(*domain.Passkey) (ports.Effects, error)) (domain.Passkey, error) {
	var (
		saved     domain.Passkey
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, owner, err := passkeyOfUser(ctx, q, userID, id)
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
		row.BackupState = boolInt(p.BackupState)
		row.LastUsedAt = nullFromTime(p.LastUsedAt)
		n, err := q.UpdatePasskey(ctx, sqlcgen.UpdatePasskeyParams{
			ID: row.ID, Name: row.Name, SignCount: row.SignCount, BackupState: row.BackupState, LastUsedAt: row.LastUsedAt,
		})
		if err != nil {
			return err
		}
		if n != 1 {
			// The row was read in this transaction, so it cannot have gone.
			return sql.ErrNoRows
		}
		saved = passkeyFromRow(row)
		return applyEffects(ctx, q, userFromRow(owner), fx)
	})
	switch {
	case updateErr != nil:
		return domain.Passkey{}, updateErr
	case errors.Is(err, sql.ErrNoRows):
		return domain.Passkey{}, domain.ErrPasskeyNotFound
	case err != nil:
		return domain.Passkey{}, translate(ctx, "update passkey", err)
	}
	return saved, nil
}

// DeletePasskey deletes the account's passkey with the effects fx returns
// for it, in one write transaction. fx's error is returned as it is, and
// nothing is deleted.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string, fx func(domain.Passkey) (ports.Effects, error)) error {
	var fxErr error
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, owner, err := passkeyOfUser(ctx, q, userID, id)
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
	case errors.Is(err, sql.ErrNoRows):
		return domain.ErrPasskeyNotFound
	}
	return translate(ctx, "delete passkey", err)
}

// passkeyOfUser reads, inside a write transaction, the passkey with id if
// it is the account's, and the account, whose effects a change saves. It
// returns sql.ErrNoRows for another account's passkey, as for a missing
// one.
func passkeyOfUser(ctx context.Context, q *sqlcgen.Queries, userID, id string) (sqlcgen.Passkey, sqlcgen.User, error) {
	row, err := q.GetPasskeyOfUser(ctx, sqlcgen.GetPasskeyOfUserParams{ID: id, UserID: userID})
	if err != nil {
		return sqlcgen.Passkey{}, sqlcgen.User{}, err
	}
	owner, err := q.GetUserByID(ctx, userID)
	return row, owner, err
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
		Transports:        splitTransports(r.Transports),
		Attachment:        r.Attachment,
		UserVerified:      r.UserVerified != 0,
		BackupEligible:    r.BackupEligible != 0,
		BackupState:       r.BackupState != 0,
		Name:              r.Name,
		CreatedAt:         timeFromMillis(r.CreatedAt),
		LastUsedAt:        timeFromNull(r.LastUsedAt),
	}
}

// passkeyParams is the one conversion from a passkey to query parameters.
func passkeyParams(p domain.Passkey) sqlcgen.CreatePasskeyParams {
	return sqlcgen.CreatePasskeyParams{
		ID:                p.ID,
		UserID:            p.UserID,
		CredentialID:      p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Aaguid:            nonEmpty(p.AAGUID),
		SignCount:         int64(p.SignCount),
		Transports:        joinTransports(p.Transports),
		Attachment:        p.Attachment,
		UserVerified:      boolInt(p.UserVerified),
		BackupEligible:    boolInt(p.BackupEligible),
		BackupState:       boolInt(p.BackupState),
		Name:              p.Name,
		CreatedAt:         p.CreatedAt.UnixMilli(),
		LastUsedAt:        nullFromTime(p.LastUsedAt),
	}
}

// joinTransports stores the transports as a JSON array, which keeps every
// string whole, unlike a separator that a browser's string might contain.
func joinTransports(transports []string) string {
	if len(transports) == 0 {
		return "[]"
	}
	b, err := json.Marshal(transports)
	if err != nil {
		// Marshalling a slice of strings cannot fail.
		panic(err)
	}
	return string(b)
}

// splitTransports reads what joinTransports stored. The column's CHECK
// admits JSON arrays only; anything else in one is read as no transports,
// which only makes a browser try them all.
func splitTransports(s string) []string {
	var transports []string
	if err := json.Unmarshal([]byte(s), &transports); err != nil {
		return nil
	}
	return transports
}

// boolInt is a flag as SQLite stores it.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
