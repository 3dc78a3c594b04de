package testkit

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// The tests compute authenticator codes here, from RFC 4226 and RFC 6238
// alone, rather than with the library the service uses: a code the
// service accepts then agrees with the standard, not merely with itself.

// TOTPPeriod is the time step of RFC 6238's default, X = 30 seconds, which
// every authenticator app uses.
const TOTPPeriod = 30 * time.Second

// TOTPDigits is how many digits authenticator apps show.
const TOTPDigits = 6

// HOTP returns the code of key for counter (RFC 4226, section 5): HMAC-SHA-1
// of the counter, dynamically truncated to 31 bits, reduced to digits
// decimal digits and written with leading zeros.
func HOTP(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	binCode := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, binCode%mod)
}

// TOTPStepAt is the time step at t (RFC 6238, section 4.2: T = (t - T0) / X
// with T0 the Unix epoch).
func TOTPStepAt(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// AuthenticatorApp is an authenticator app holding one secret.
type AuthenticatorApp struct{ key []byte }

// NewAuthenticatorApp takes a secret as a person types it into an app: base32,
// in either case, with or without spaces and padding.
func NewAuthenticatorApp(secret string) (AuthenticatorApp, error) {
	s := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(secret))
	s = strings.TrimRight(s, "=")
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return AuthenticatorApp{}, fmt.Errorf("testkit: the secret is not base32: %w", err)
	}
	if len(key) == 0 {
		return AuthenticatorApp{}, fmt.Errorf("testkit: the secret is empty")
	}
	return AuthenticatorApp{key: key}, nil
}

// Code is the code the app shows at t.
func (a AuthenticatorApp) Code(t time.Time) string { return a.CodeOfStep(TOTPStepAt(t)) }

// CodeOfStep is the code of a time step.
func (a AuthenticatorApp) CodeOfStep(step int64) string {
	return HOTP(a.key, uint64(step), TOTPDigits)
}
