package ports

import (
	"context"
	"crypto/ecdsa"
	"time"
)

// SigningKey is a token signing key and when it signs. Keys come in a set,
// oldest first: each signs from its ActiveFrom until the next key's, and
// verifies until every token it signed has expired.
type SigningKey struct {
	Private *ecdsa.PrivateKey
	// Created is when the key was made. Only the oldest key of a set may
	// lack it, when it comes from before keys were dated.
	Created time.Time
	// ActiveFrom is when the key starts signing; until then it is only
	// published, so that every verifier knows it before a token signed
	// with it arrives. Zero means from Created.
	ActiveFrom time.Time
}

// KeyStore keeps the set of token signing keys: a file beside a SQLite
// database, or the database that a fleet shares.
type KeyStore interface {
	// SigningKeys returns the keys, oldest first; none if the set is empty.
	SigningKeys(ctx context.Context) ([]SigningKey, error)

	// UpdateSigningKeys replaces the set with what update makes of the
	// current one, atomically: updates by other processes, such as
	// replicas rotating on a schedule, wait their turn and see the result.
	// An error from update leaves the set as it was.
	UpdateSigningKeys(ctx context.Context, update func(current []SigningKey) ([]SigningKey, error)) error
}
