package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxUserAgentLength bounds the user agent kept with a session; it is shown
// to the user to recognise the device, not parsed.
const MaxUserAgentLength = 256

// Session is a login: the server-side record that every refresh token belongs
// to. Revoking it ends the refresh tokens at once; access tokens carry its id
// but stay valid until they expire, which is why they are short-lived.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is absolute: refreshing never extends a session.
	ExpiresAt time.Time
	RevokedAt time.Time // zero while the session is live
	UserAgent string
	IP        string
	// RefreshTokenID is the id (jti) of the session's current refresh token.
	// With rotation, PreviousRefreshTokenID is the one it replaced at
	// RotatedAt, still honoured for a short grace interval.
	RefreshTokenID         string
	PreviousRefreshTokenID string
	RotatedAt              time.Time
	// AMR is how the user proved who they were at the login (RFC 8176
	// values, such as "pwd" and "otp"); its tokens carry it.
	AMR []string
	// SecondFactorAt is when the session's user last gave a second
	// factor; zero if never. Sensitive actions need a recent one.
	SecondFactorAt time.Time
}

// HasRecentSecondFactor reports whether the session's user gave a second
// factor within StepUpWindow of now.
func (s Session) HasRecentSecondFactor(now time.Time) bool {
	return !s.SecondFactorAt.IsZero() && now.Sub(s.SecondFactorAt) < StepUpWindow
}

// Client describes where a request comes from.
type Client struct {
	// IP is the client's address in canonical form: an IPv4 address mapped
	// into IPv6 is written as IPv4.
	IP string
	// Source is what limits per client count against: the IPv4 address, or
	// the IPv6 network of the configured prefix length, since one home
	// connection commonly holds a whole /64.
	Source    string
	UserAgent string
}

// NewSession starts a session for userID at now, lasting ttl, for a login
// with a password; a login of another kind sets AMR.
func NewSession(id, userID, refreshTokenID string, client Client, now time.Time, ttl time.Duration) Session {
	return Session{
		ID:             id,
		UserID:         userID,
		CreatedAt:      now,
		LastUsedAt:     now,
		ExpiresAt:      now.Add(ttl),
		UserAgent:      cleanUserAgent(client.UserAgent),
		IP:             client.IP,
		RefreshTokenID: refreshTokenID,
		AMR:            []string{AMRPassword},
	}
}

// cleanUserAgent is the user agent as a session keeps it, to show its owner
// in a list of sessions: valid UTF-8 without control characters (each
// invalid byte and control character becomes U+FFFD), cut to at most
// MaxUserAgentLength bytes at a character boundary. What a client sends is
// not trusted to be text, and every store can keep text.
func cleanUserAgent(ua string) string {
	// Nothing past this can survive the cut, so no more is cleaned.
	if limit := MaxUserAgentLength * utf8.UTFMax; len(ua) > limit {
		ua = ua[:limit]
	}
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(ua, string(utf8.RuneError)))
	if len(ua) > MaxUserAgentLength {
		cut := MaxUserAgentLength
		for !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return ua
}

// Live reports whether the session may still be refreshed at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// Revoke ends the session; revoking an ended session changes nothing.
func (s *Session) Revoke(now time.Time) {
	if s.RevokedAt.IsZero() {
		s.RevokedAt = now
	}
}

// RefreshUse is what presenting a refresh token to its session amounts to.
type RefreshUse int

// The outcomes of presenting a refresh token.
const (
	// RefreshCurrent: the session's current token.
	RefreshCurrent RefreshUse = iota + 1
	// RefreshRecentlyRotated: the token just replaced, within the grace
	// interval; a concurrent client racing the rotation, not an attacker.
	RefreshRecentlyRotated
	// RefreshReused: an older token. Someone holds a token that should be
	// dead: the session must end (RFC 9700, section 4.14.2).
	RefreshReused
)

// UseRefreshToken classifies presenting refresh token tokenID at now and
// records the use. Reuse revokes the session.
func (s *Session) UseRefreshToken(tokenID string, now time.Time, grace time.Duration) RefreshUse {
	switch {
	case tokenID == s.RefreshTokenID:
		s.LastUsedAt = now
		return RefreshCurrent
	case tokenID != "" && tokenID == s.PreviousRefreshTokenID && now.Sub(s.RotatedAt) <= grace:
		s.LastUsedAt = now
		return RefreshRecentlyRotated
	default:
		s.Revoke(now)
		return RefreshReused
	}
}

// Rotate makes newTokenID the session's current refresh token.
func (s *Session) Rotate(newTokenID string, now time.Time) {
	s.PreviousRefreshTokenID = s.RefreshTokenID
	s.RefreshTokenID = newTokenID
	s.RotatedAt = now
}
