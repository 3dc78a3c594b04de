package domain

import "time"

// TokenKind separates the kinds of token the service issues. A token of one
// kind is never accepted where another is expected.
type TokenKind int

// The token kinds.
const (
	AccessToken TokenKind = iota + 1
	RefreshToken
	// MFAToken carries a login from its right password to its second
	// factor: short-lived, good for that one login attempt only.
	MFAToken
)

func (k TokenKind) String() string {
	switch k {
	case AccessToken:
		return "access"
	case RefreshToken:
		return "refresh"
	case MFAToken:
		return "mfa"
	}
	return "unknown"
}

// Claims is what a verified token says about its bearer.
type Claims struct {
	Kind      TokenKind
	UserID    string
	SessionID string // the session the token belongs to (the JWT sid)
	ID        string // unique per token (the JWT jti)
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AMR is how the user proved who they were (RFC 8176), for access and
	// refresh tokens.
	AMR []string
}
