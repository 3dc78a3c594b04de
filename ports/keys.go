package ports

import (
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
