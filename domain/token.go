package domain

import "time"

// TokenKind separates the two kinds of token the service issues. A token of
// one kind is never accepted where the other is expected.
type TokenKind int

// The token kinds.
const (
	AccessToken TokenKind = iota + 1
	RefreshToken
)

func (k TokenKind) String() string {
	switch k {
	case AccessToken:
		return "access"
	case RefreshToken:
		return "refresh"
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
}
