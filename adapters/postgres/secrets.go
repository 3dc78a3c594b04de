package postgres

import (
	"context"
	"crypto/subtle"
	"errors"

	"authapi/db/postgres/sqlcgen"
)

// ErrSecretDiffers reports a secret other than the one the first replica
// recorded.
var ErrSecretDiffers = errors.New("differs from the one the other replicas use")

// CheckSharedSecret records digest, a digest of a secret that every replica
// must hold (such as the server secret), if none is recorded for purpose,
// and otherwise compares it with the recorded one: it returns
// ErrSecretDiffers if they differ. A replica started with another secret
// then refuses to start, rather than fail one request in three.
func (db *DB) CheckSharedSecret(ctx context.Context, purpose string, digest []byte) error {
	params := sqlcgen.RecordSecretCheckParams{Purpose: purpose, Digest: digest}
	recorded, err := db.q.RecordSecretCheck(ctx, params)
	if notFound(err) {
		// Another replica recorded its digest between this one's insert
		// and read; the second look sees it.
		recorded, err = db.q.RecordSecretCheck(ctx, params)
	}
	if err != nil {
		return translate(ctx, "check "+purpose, err)
	}
	if subtle.ConstantTimeCompare(recorded, digest) != 1 {
		return ErrSecretDiffers
	}
	return nil
}
