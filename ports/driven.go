// Package ports declares the boundaries of the authentication core: the
// services it needs from the outside world (driven ports, this file) and the
// use cases it offers to drivers such as the HTTP API (auth.go).
package ports

import (
	"context"
	"time"

	"authapi/domain"
)

// UserStore persists accounts.
type UserStore interface {
	// CreateUser stores a new account. It returns domain.ErrEmailTaken if an
	// account with the same email exists.
	CreateUser(ctx context.Context, u domain.User) error

	// UserByEmail returns the account with the given normalized email, or
	// domain.ErrUserNotFound.
	UserByEmail(ctx context.Context, email domain.Email) (domain.User, error)

	// UserByID returns the account with the given id, or domain.ErrUserNotFound.
	UserByID(ctx context.Context, id string) (domain.User, error)

	// UpdateUser loads the account with the given email inside one write
	// transaction and passes it to update. If update returns nil the changed
	// account is saved and returned; otherwise nothing is saved and update's
	// error is returned. Concurrent updates of one account are serialized, so
	// no change is lost. It returns domain.ErrUserNotFound if there is no such
	// account.
	UpdateUser(ctx context.Context, email domain.Email, update func(*domain.User) error) (domain.User, error)
}

// PasswordHasher turns passwords into self-describing hashes and checks them.
// Hashing is deliberately slow, so implementations bound how many run at once
// and may block until ctx is done.
type PasswordHasher interface {
	// Hash returns an encoded hash of password with a fresh random salt.
	Hash(ctx context.Context, password string) (string, error)

	// Verify reports whether password matches the encoded hash. It returns an
	// error only if encoded is malformed or ctx ends while waiting for a slot.
	Verify(ctx context.Context, password, encoded string) (bool, error)
}

// TokenIssuer signs tokens.
type TokenIssuer interface {
	// Issue returns a signed token of the given kind for userID, valid from
	// now, and the claims it carries.
	Issue(kind domain.TokenKind, userID string, now time.Time) (string, domain.Claims, error)
}

// TokenVerifier checks tokens.
type TokenVerifier interface {
	// Verify checks token's signature, kind and lifetime at time now and
	// returns its claims. Any token that is not acceptable yields an error
	// matching domain.ErrInvalidToken.
	Verify(token string, kind domain.TokenKind, now time.Time) (domain.Claims, error)
}

// Tokens issues and verifies tokens.
type Tokens interface {
	TokenIssuer
	TokenVerifier
}

// Message is an email ready to send: a plain-text body and its HTML
// alternative.
type Message struct {
	To      domain.Email
	Subject string
	Text    string
	HTML    string
}

// Mailer delivers email.
type Mailer interface {
	// Send delivers msg or returns why it could not.
	Send(ctx context.Context, msg Message) error
}

// Clock tells the time. Tests pass a fixed or manual clock.
type Clock interface {
	Now() time.Time
}

// Random is the source of unpredictable bytes for ids, codes and salts:
// crypto/rand.Reader in production, a fixed reader in tests.
type Random interface {
	Read(p []byte) (n int, err error)
}
