package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"time"
)

// Activation-code rules.
const (
	ActivationCodeDigits   = 6
	MaxActivationAttempts  = 5
	activationCodeModulus  = 1_000_000
	activationHashDomainID = "authapi activation code v1"
)

// ActivationCode is a freshly generated one-time code in clear text. It exists
// only long enough to be emailed; the account stores its hash.
type ActivationCode string

// GenerateActivationCode draws a uniformly distributed 6-digit code from r,
// which must be a cryptographically secure source in production.
func GenerateActivationCode(r io.Reader) (ActivationCode, error) {
	// Rejection sampling: values at or above the largest multiple of 10^6
	// below 2^32 would make low codes slightly more likely.
	const limit = (1 << 32) / activationCodeModulus * activationCodeModulus
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if v < limit {
			return ActivationCode(fmt.Sprintf("%06d", v%activationCodeModulus)), nil
		}
	}
}

// ActivationState is the pending activation code of an inactive account: its
// hash, expiry and the number of wrong attempts made against it.
type ActivationState struct {
	CodeHash  []byte // nil when no code is pending
	ExpiresAt time.Time
	Attempts  int
}

// Pending reports whether a code has been issued and not yet used.
func (a ActivationState) Pending() bool { return len(a.CodeHash) > 0 }

func newActivationState(userID string, code ActivationCode, now time.Time, ttl time.Duration) ActivationState {
	return ActivationState{
		CodeHash:  hashActivationCode(userID, string(code)),
		ExpiresAt: now.Add(ttl),
	}
}

func (a ActivationState) check(userID, code string, now time.Time) error {
	switch {
	case !a.Pending():
		return ErrInvalidCode
	case a.Attempts >= MaxActivationAttempts:
		return ErrCodeExhausted
	case !now.Before(a.ExpiresAt):
		return ErrCodeExpired
	}
	got := hashActivationCode(userID, code)
	if subtle.ConstantTimeCompare(got, a.CodeHash) != 1 {
		return ErrInvalidCode
	}
	return nil
}

// hashActivationCode binds the code to its account, so a stored hash cannot be
// replayed against another user. A six-digit code has too little entropy for
// any hash to resist offline guessing; the hash keeps codes out of backups and
// logs, while expiry and the attempt limit are what protect the account.
func hashActivationCode(userID, code string) []byte {
	h := sha256.New()
	h.Write([]byte(activationHashDomainID))
	h.Write([]byte{0})
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum(nil)
}
