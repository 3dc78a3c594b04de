package ports

import (
	"context"
	"errors"
	"time"

	"authapi/domain"
)

// Authenticator is the algorithm of authenticator apps: TOTP (RFC 6238)
// with the defaults of domain.TOTPStep and domain.TOTPDigits.
type Authenticator interface {
	// CodeAt returns the code of secret for the time step.
	CodeAt(secret []byte, step int64) (string, error)
	// Enrolment describes secret for an authenticator app, as account of
	// issuer.
	Enrolment(issuer, account string, secret []byte) (TOTPEnrolment, error)
}

// TOTPEnrolment is what a user needs to add a secret to an authenticator
// app: the secret itself, to type, its otpauth:// URI, and that URI as a QR
// code (a data: URI of a PNG image) to scan.
type TOTPEnrolment struct {
	Secret string
	URI    string
	QRCode string
}

// Sealer encrypts small secrets at rest under a key that never enters the
// database. A sealed secret opens only with the same context, which binds
// it to what it belongs to.
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	// Open returns ErrSealBroken for anything Seal did not make with this
	// key and context.
	Open(sealed, context []byte) ([]byte, error)
}

// ErrSealBroken reports a sealed secret that does not open: made under
// another key or for another context, or damaged.
var ErrSealBroken = errors.New("the sealed secret does not open with this key")

// ChallengeStore keeps the challenges of ceremonies that span requests,
// such as the second step of a login, so that any replica can finish what
// another started.
type ChallengeStore interface {
	// CreateChallenge stores a new challenge.
	CreateChallenge(ctx context.Context, c domain.Challenge) error
	// UpdateChallenge loads the challenge with id in one transaction and
	// passes it to update; if update returns nil the changed challenge is
	// saved and returned, otherwise nothing is saved and update's error is
	// returned. It returns domain.ErrChallengeNotFound if there is none.
	UpdateChallenge(ctx context.Context, id string, update func(*domain.Challenge) error) (domain.Challenge, error)
	// PruneChallenges deletes the challenges that expired before the given
	// time and returns how many.
	PruneChallenges(ctx context.Context, before time.Time) (int, error)
}
