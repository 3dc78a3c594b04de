package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"time"
)

// One-time code rules, the same for activation and password reset codes.
const (
	CodeDigits            = 6
	MaxActivationAttempts = 5
	codeModulus           = 1_000_000
)

// CodePurpose separates the uses of one-time codes: a code issued for one
// purpose never works for another, because the purpose is part of its hash.
type CodePurpose string

// The purposes of one-time codes. The strings are part of stored hashes and
// must never change.
const (
	PurposeActivation    CodePurpose = "authapi activation code v1"
	PurposePasswordReset CodePurpose = "authapi password reset code v1"
)

// SecretCode is a freshly generated one-time code in clear text. It exists
// only long enough to be emailed; the account stores its hash.
type SecretCode string

// GenerateSecretCode draws a uniformly distributed 6-digit code from r,
// which must be a cryptographically secure source in production.
func GenerateSecretCode(r io.Reader) (SecretCode, error) {
	// Rejection sampling: values at or above the largest multiple of 10^6
	// below 2^32 would make low codes slightly more likely.
	const limit = (1 << 32) / codeModulus * codeModulus
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if v < limit {
			return SecretCode(fmt.Sprintf("%06d", v%codeModulus)), nil
		}
	}
}

// OneTimeCode is a pending code of an account, such as its activation code:
// its hash, expiry and the number of wrong attempts made against it.
type OneTimeCode struct {
	CodeHash  []byte // nil when no code is pending
	ExpiresAt time.Time
	Attempts  int
}

// Pending reports whether a code has been issued and not yet used.
func (a OneTimeCode) Pending() bool { return len(a.CodeHash) > 0 }

func newOneTimeCode(purpose CodePurpose, userID string, code SecretCode, now time.Time, ttl time.Duration) OneTimeCode {
	return OneTimeCode{
		CodeHash:  hashCode(purpose, userID, string(code)),
		ExpiresAt: now.Add(ttl),
	}
}

func (a OneTimeCode) check(purpose CodePurpose, userID, code string, now time.Time) error {
	switch {
	case !a.Pending():
		return ErrInvalidCode
	case a.Attempts >= MaxActivationAttempts:
		return ErrCodeExhausted
	case !now.Before(a.ExpiresAt):
		return ErrCodeExpired
	}
	got := hashCode(purpose, userID, code)
	if subtle.ConstantTimeCompare(got, a.CodeHash) != 1 {
		return ErrInvalidCode
	}
	return nil
}

// hashCode binds the code to its purpose and account, so a stored hash cannot
// be replayed against another user or for another use. A six-digit code has too little entropy for
// any hash to resist offline guessing; the hash keeps codes out of backups and
// logs, while expiry and the attempt limit are what protect the account.
func hashCode(purpose CodePurpose, userID, code string) []byte {
	h := sha256.New()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum(nil)
}
