package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"
)

// One-time code rules, the same for activation and password reset codes.
const (
	CodeDigits = 6
	// MaxActivationAttempts is how many wrong guesses one code survives.
	MaxActivationAttempts = 5
	codeModulus           = 1_000_000
)

// The cap on wrong codes per account, across every code it is sent. A new
// code starts with five attempts of its own, so without a cap each resend
// would buy five more guesses. The cap holds MaxWrongCodes wrong guesses
// and gives one back every WrongCodeRefill, so an attacker who keeps
// guessing gets at most MaxWrongCodes + 365 days / WrongCodeRefill = 62
// guesses a year at one account, a chance of 62 in a million (about 1 in
// 16,000) to hit a six-digit code. The owner is never locked out by it: the
// emailed link carries a long token that the cap does not apply to.
const (
	MaxWrongCodes   = 10
	WrongCodeRefill = 7 * 24 * time.Hour
)

// LinkTokenBytes is the entropy of the token an emailed link carries: 256
// bits, beyond any guessing, so that a link needs no attempt limit.
const LinkTokenBytes = 32

// CodePurpose separates the uses of one-time secrets: a secret issued for
// one purpose never works for another, because the purpose is part of its
// hash.
type CodePurpose string

// The purposes of one-time secrets. The strings are part of stored hashes
// and must never change.
const (
	PurposeActivation     CodePurpose = "authapi activation code v2"
	PurposePasswordReset  CodePurpose = "authapi password reset code v2"
	PurposeActivationLink CodePurpose = "authapi activation link v2"
	PurposeResetLink      CodePurpose = "authapi password reset link v2"
	PurposeUnlockLink     CodePurpose = "authapi unlock link v2"
)

// CodeKey is the server-held secret that one-time codes and link tokens are
// hashed under (HMAC-SHA256). A six-digit code has too little entropy for a
// plain hash to hide it: anyone with a copy of the database could try every
// code in a second. Under a key that is not in the database, the stored
// hashes reveal nothing.
type CodeKey struct{ key []byte }

// NewCodeKey wraps a secret of at least 32 bytes.
func NewCodeKey(secret []byte) (CodeKey, error) {
	if len(secret) < 32 {
		return CodeKey{}, fmt.Errorf("code key: want at least 32 bytes, got %d", len(secret))
	}
	return CodeKey{key: append([]byte(nil), secret...)}, nil
}

// IsZero reports whether k holds no key.
func (k CodeKey) IsZero() bool { return len(k.key) == 0 }

// hash binds secret to its purpose and account, so that a stored hash
// cannot be replayed against another account or for another use.
func (k CodeKey) hash(purpose CodePurpose, userID, secret string) []byte {
	if len(k.key) == 0 {
		// A zero CodeKey is a wiring bug; hashing under an empty key would
		// quietly bring back the weakness the key exists to remove.
		panic("domain: one-time secret hashed with a zero CodeKey")
	}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// SecretCode is a freshly generated one-time code in clear text. It exists
// only long enough to be emailed; the account stores its hash.
type SecretCode string

// LinkToken is the token of an emailed link, in clear text, like SecretCode.
type LinkToken string

// CodeSecrets are what one email carries: a code to type and the token of
// a link to follow instead.
type CodeSecrets struct {
	Code SecretCode
	Link LinkToken
}

// GenerateCodeSecrets draws a code and a link token from r, which must be a
// cryptographically secure source in production.
func GenerateCodeSecrets(r io.Reader) (CodeSecrets, error) {
	code, err := GenerateSecretCode(r)
	if err != nil {
		return CodeSecrets{}, err
	}
	link, err := GenerateLinkToken(r)
	if err != nil {
		return CodeSecrets{}, err
	}
	return CodeSecrets{Code: code, Link: link}, nil
}

// GenerateSecretCode draws a uniformly distributed 6-digit code from r.
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

// GenerateLinkToken draws a link token from r: LinkTokenBytes random bytes,
// base64url without padding, so that it survives URLs and mail unescaped.
func GenerateLinkToken(r io.Reader) (LinkToken, error) {
	var b [LinkTokenBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return LinkToken(base64.RawURLEncoding.EncodeToString(b[:])), nil
}

// Proof is what a user presents for a pending code: the code they typed, or
// the token of the link they followed.
type Proof struct {
	secret string
	link   bool
}

// CodeProof is a typed code. Spaces around it, as pasting adds, do not
// count.
func CodeProof(code string) Proof { return Proof{secret: code} }

// LinkProof is the token of a followed link.
func LinkProof(token string) Proof { return Proof{secret: token, link: true} }

// IsLink reports whether p came from a link rather than a typed code.
func (p Proof) IsLink() bool { return p.link }

// Secret returns the code or token as given, for checks that it was given.
func (p Proof) Secret() string { return p.secret }

// OneTimeCode is a pending code of an account, such as its activation code:
// the hashes of the code and of the link token emailed with it, its expiry
// and the number of wrong codes tried against it.
type OneTimeCode struct {
	CodeHash  []byte // nil when no code is pending
	LinkHash  []byte // nil when no link is pending
	ExpiresAt time.Time
	Attempts  int
}

// Pending reports whether a code or link has been issued and not yet used.
func (c OneTimeCode) Pending() bool { return len(c.CodeHash) > 0 || len(c.LinkHash) > 0 }

// codePurposes names the hash purposes of one kind of one-time secret.
type codePurposes struct{ code, link CodePurpose }

var (
	activationPurposes = codePurposes{PurposeActivation, PurposeActivationLink}
	resetPurposes      = codePurposes{PurposePasswordReset, PurposeResetLink}
)

func newOneTimeCode(key CodeKey, p codePurposes, userID string, s CodeSecrets, now time.Time, ttl time.Duration) OneTimeCode {
	c := OneTimeCode{ExpiresAt: now.Add(ttl)}
	if s.Code != "" && p.code != "" {
		c.CodeHash = key.hash(p.code, userID, string(s.Code))
	}
	if s.Link != "" {
		c.LinkHash = key.hash(p.link, userID, string(s.Link))
	}
	return c
}

// check tells whether proof matches the pending code at now. A wrong typed
// code counts against the code's attempts and the account's cap (wrong),
// which the caller must then save; a wrong link token counts against
// nothing, since nobody can guess one.
func (c *OneTimeCode) check(key CodeKey, p codePurposes, userID string, proof Proof, wrong *WrongCodes, now time.Time) error {
	stored := c.CodeHash
	purpose := p.code
	if proof.link {
		stored, purpose = c.LinkHash, p.link
	}
	secret := strings.TrimSpace(proof.secret)
	switch {
	case len(stored) == 0 || secret == "":
		return ErrInvalidCode
	case !proof.link && (c.Attempts >= MaxActivationAttempts || wrong.Count(now) >= MaxWrongCodes):
		return ErrCodeExhausted
	case !now.Before(c.ExpiresAt):
		return ErrCodeExpired
	}
	if !hmac.Equal(key.hash(purpose, userID, secret), stored) {
		if !proof.link {
			c.Attempts++
			wrong.Add(now)
		}
		return ErrInvalidCode
	}
	return nil
}

// PendingLink is an emailed link that comes without a code, such as the
// link that lifts a login lock: the hash of its token and its expiry.
type PendingLink struct {
	Hash      []byte // nil when no link is pending
	ExpiresAt time.Time
}

func newPendingLink(key CodeKey, purpose CodePurpose, userID string, token LinkToken, now time.Time, ttl time.Duration) PendingLink {
	return PendingLink{Hash: key.hash(purpose, userID, string(token)), ExpiresAt: now.Add(ttl)}
}

// matches reports whether token is the pending link's token at now.
func (l PendingLink) matches(key CodeKey, purpose CodePurpose, userID, token string, now time.Time) bool {
	return len(l.Hash) > 0 && token != "" && now.Before(l.ExpiresAt) &&
		hmac.Equal(key.hash(purpose, userID, token), l.Hash)
}

// WrongCodes counts an account's wrong codes for the cap described at
// MaxWrongCodes: a count that drops by one every WrongCodeRefill.
type WrongCodes struct {
	// N is the count as of At; Count gives the count at a later time.
	N  int
	At time.Time
}

// Count returns the count at now, after the refills since At.
func (w WrongCodes) Count(now time.Time) int {
	if w.N <= 0 {
		return 0
	}
	refilled := int(now.Sub(w.At) / WrongCodeRefill)
	return max(0, w.N-max(0, refilled))
}

// Add records a wrong code at now. At moves on by whole refill periods
// only, so that a refill under way is not lost.
func (w *WrongCodes) Add(now time.Time) {
	n := w.Count(now)
	switch {
	case n == 0:
		w.At = now
	default:
		w.At = w.At.Add(now.Sub(w.At) / WrongCodeRefill * WrongCodeRefill)
	}
	w.N = n + 1
}
