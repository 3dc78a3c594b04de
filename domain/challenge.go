package domain

import "time"

// ChallengePurpose says what a challenge is for; one never serves another
// purpose.
type ChallengePurpose string

// The purposes of challenges.
const (
	// ChallengeLoginMFA is the second step of a login: a right password
	// was given, a second factor is due.
	ChallengeLoginMFA ChallengePurpose = "login_mfa"
)

// Challenge is a ceremony that spans requests: started by one, finished by
// a later one, within a short time, at most once.
type Challenge struct {
	ID      string
	Purpose ChallengePurpose
	// UserID is the account the challenge is for, if it is for one.
	UserID string
	// Data is what the ceremony needs to finish, opaque to the store.
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// Failures counts wrong answers; at MaxChallengeFailures the challenge
	// is spent.
	Failures int
	// UsedAt is when the challenge was finished; zero until then.
	UsedAt time.Time
	// AMR is how the user proved who they were so far (RFC 8176 values).
	AMR []string
}

// MaxChallengeFailures is how many wrong answers end a challenge.
const MaxChallengeFailures = 5

// MFAChallengeTTL is how long the second step of a login may wait.
const MFAChallengeTTL = 5 * time.Minute

// ErrChallengeNotFound reports a challenge that does not exist, or no
// longer does.
var ErrChallengeNotFound = &Error{Code: CodeInvalidToken, Message: "the token is missing, malformed, expired or not accepted here"}

// Open reports whether the challenge, for purpose, may still be answered at
// now: not expired, not used, not out of attempts.
func (c Challenge) Open(purpose ChallengePurpose, now time.Time) bool {
	return c.Purpose == purpose && now.Before(c.ExpiresAt) && c.UsedAt.IsZero() && c.Failures < MaxChallengeFailures
}

// Fail counts a wrong answer.
func (c *Challenge) Fail() { c.Failures++ }

// Use finishes the challenge: it cannot be answered again.
func (c *Challenge) Use(now time.Time) { c.UsedAt = now }
