// Package ports declares the boundaries of the authentication core: the
// services it needs from the outside world (driven ports, this file) and the
// use cases it offers to drivers such as the HTTP API (auth.go).
package ports

import (
	"context"
	"time"

	"authapi/domain"
)

// UserStore persists accounts, and queues the mail that account changes
// cause in the same transaction as the change, so that neither is ever stored
// without the other.
type UserStore interface {
	// CreateUser stores a new account and queues mail with it. It returns
	// domain.ErrEmailTaken if an account with the same email exists, in which
	// case nothing is queued.
	CreateUser(ctx context.Context, u domain.User, mail ...OutgoingMail) error

	// UserByEmail returns the account with the given normalized email, or
	// domain.ErrUserNotFound.
	UserByEmail(ctx context.Context, email domain.Email) (domain.User, error)

	// UserByID returns the account with the given id, or domain.ErrUserNotFound.
	UserByID(ctx context.Context, id string) (domain.User, error)

	// UpdateUser loads the account with the given email inside one write
	// transaction and passes it to update. If update returns a nil error the
	// changed account is saved, the mail update returned is queued, and the
	// saved account is returned; otherwise nothing is saved and update's error
	// is returned. Concurrent updates of one account are serialized, so no
	// change is lost. update must not change the account's id or email. It
	// returns domain.ErrUserNotFound if there is no such account.
	UpdateUser(ctx context.Context, email domain.Email, update func(*domain.User) ([]OutgoingMail, error)) (domain.User, error)

	// DeleteUser deletes the account with the given id and its sessions, so
	// that its email can sign up again. It returns domain.ErrUserNotFound if
	// there is no such account.
	DeleteUser(ctx context.Context, id string) error
}

// OutgoingMail is a message to queue for delivery.
type OutgoingMail struct {
	Message
	// Slot, when set, makes the message replace any message of the same slot
	// that has not been sent yet: a new activation code supersedes the old.
	Slot string
	// ExpiresAt, when set, is when the message becomes pointless, such as
	// when the code it carries expires; it is not delivered after that.
	ExpiresAt time.Time
	// QueuedAt is when the change that caused the message happened; the
	// first delivery attempt is due then.
	QueuedAt time.Time
}

// QueuedMail is an outgoing message waiting in the outbox.
type QueuedMail struct {
	OutgoingMail
	Attempts int // failed delivery attempts so far
}

// MailStats summarizes the outbox.
type MailStats struct {
	Pending, Sent, Dead, Superseded int
	// OldestPending is the age of the oldest message not yet delivered; zero
	// when none is pending.
	OldestPending time.Duration
}

// Outbox is the delivery side of the mail queue that UserStore fills.
type Outbox interface {
	// DueMail returns up to limit pending messages whose next attempt is due
	// at now, oldest first.
	DueMail(ctx context.Context, now time.Time, limit int) ([]QueuedMail, error)

	// MarkSent records that the message was delivered.
	MarkSent(ctx context.Context, id string, now time.Time) error

	// RetryLater records a failed attempt and when to try again.
	RetryLater(ctx context.Context, id string, attempts int, next time.Time, lastError string) error

	// MarkDead gives up on the message, keeping the reason.
	MarkDead(ctx context.Context, id string, attempts int, now time.Time, reason string) error

	// MailStats counts messages by state at time now.
	MailStats(ctx context.Context, now time.Time) (MailStats, error)

	// PruneMail deletes messages that are no longer pending and were queued
	// before the given time.
	PruneMail(ctx context.Context, before time.Time) (int, error)
}

// MailNotifier hears that mail has been queued, so that delivery need not
// wait for the next poll of the outbox.
type MailNotifier interface {
	MailQueued()
}

// SessionStore persists sessions.
type SessionStore interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s domain.Session) error

	// Session returns the session with the given id, or
	// domain.ErrSessionNotFound. It reads without taking the write lock.
	Session(ctx context.Context, id string) (domain.Session, error)

	// UpdateSession loads the session with the given id inside one write
	// transaction and passes it to update; if update returns nil the changed
	// session is saved and returned, otherwise nothing is saved and update's
	// error is returned. It returns domain.ErrSessionNotFound if there is no
	// such session.
	UpdateSession(ctx context.Context, id string, update func(*domain.Session) error) (domain.Session, error)

	// SessionsOfUser returns the user's sessions that are live at now,
	// newest first.
	SessionsOfUser(ctx context.Context, userID string, now time.Time) ([]domain.Session, error)

	// RevokeSessions ends every live session of the user at now, except the
	// one with id except (if not empty), and returns how many it ended.
	RevokeSessions(ctx context.Context, userID string, now time.Time, except string) (int, error)
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

	// NeedsRehash reports whether encoded was made with other parameters
	// than Hash uses now, or cannot be read. After a successful login the
	// core then hashes the password again, so raising the cost of hashing
	// reaches every account that is still in use.
	NeedsRehash(encoded string) bool
}

// PasswordPolicy judges whether a password is too easy to guess, beyond the
// length rules of domain.NewRegistration: common passwords, words from the
// user's own email or name, keyboard patterns and the like.
type PasswordPolicy interface {
	// Check returns nil if password is acceptable, or a *domain.Error with
	// code domain.CodeValidationFailed and a FieldError for "password" that
	// says why it is not, without quoting it. userInputs are the other
	// things the user told us, such as the email and name, which an
	// attacker who targets the account would try first. Check does no I/O
	// and its cost is bounded whatever the length of password.
	Check(password string, userInputs []string) error
}

// TokenSpec says what a token is for.
type TokenSpec struct {
	Kind      domain.TokenKind
	UserID    string
	SessionID string
	// ID, when set, is the token id (jti) to use instead of a fresh one.
	ID string
}

// TokenIssuer signs tokens.
type TokenIssuer interface {
	// Issue returns a signed token as spec says, valid from now, and the
	// claims it carries.
	Issue(spec TokenSpec, now time.Time) (string, domain.Claims, error)
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
	// ID identifies the message across delivery attempts; mailers derive the
	// Message-ID header from it, so a repeated delivery is recognisable.
	ID      string
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

// Limit is a token bucket: Burst events at once, refilled at Events per Per.
type Limit struct {
	Events int
	Per    time.Duration
	Burst  int
}

// RateLimiter spends from token buckets kept per key. State may live in
// memory (one node) or in a shared store (several).
type RateLimiter interface {
	// Take spends one event of key's bucket under limit at now. It returns
	// zero when the event is allowed, or how long until it would be.
	Take(ctx context.Context, key string, limit Limit, now time.Time) (time.Duration, error)
}

// Failures is a run of consecutive failures, such as wrong passwords.
type Failures struct {
	Count int
	Last  time.Time
}

// FailureCounter counts consecutive failures per key.
type FailureCounter interface {
	// Failures returns key's current run, zero if none.
	Failures(ctx context.Context, key string, now time.Time) (Failures, error)
	// RecordFailure adds one failure at now and returns the run.
	RecordFailure(ctx context.Context, key string, now time.Time) (Failures, error)
	// Reset ends key's run, as a success does.
	Reset(ctx context.Context, key string) error
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
