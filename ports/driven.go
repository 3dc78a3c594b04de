// Package ports declares the boundaries of the authentication core: the
// services it needs from the outside world (driven ports, this file) and the
// use cases it offers to drivers such as the HTTP API (auth.go).
package ports

import (
	"context"
	"time"

	"authapi/domain"
)

// UserStore persists accounts. A change of an account is saved together with
// the Effects it brings, in one transaction, so that neither is ever stored
// without the other: an activation email without its account, a new
// password while the sessions that knew the old one live on.
type UserStore interface {
	// CreateUser stores a new account with its effects. It returns
	// domain.ErrEmailTaken if an account with the same email exists, in which
	// case nothing is saved.
	CreateUser(ctx context.Context, u domain.User, fx Effects) error

	// UserByEmail returns the account with the given normalized email, or
	// domain.ErrUserNotFound.
	UserByEmail(ctx context.Context, email domain.Email) (domain.User, error)

	// UserByID returns the account with the given id, or domain.ErrUserNotFound.
	UserByID(ctx context.Context, id string) (domain.User, error)

	// UpdateUser loads the account that key names inside one write
	// transaction and passes it to update. If update returns a nil error, the
	// changed account and the effects update returned are saved together and
	// the saved account is returned; otherwise nothing is saved and update's
	// error is returned. Concurrent updates of one account are serialized,
	// so no change is lost. update must not change the account's id or
	// email, and must not call the store. It returns domain.ErrUserNotFound
	// if there is no such account.
	UpdateUser(ctx context.Context, key UserKey, update func(*domain.User) (Effects, error)) (domain.User, error)

	// DeleteUser deletes the account with the given id and its sessions, so
	// that its email can sign up again, and saves fx with the deletion. It
	// returns domain.ErrUserNotFound if there is no such account.
	DeleteUser(ctx context.Context, id string, fx Effects) error

	// ListUsers returns the accounts that q selects, in id order (the order
	// they were created in), with the state of their login lock.
	ListUsers(ctx context.Context, q UserQuery) ([]AccountSummary, error)
}

// UserState selects accounts by state.
type UserState string

// The states an operator can list accounts by. An account is locked while
// a login lock is in force, whatever its other state.
const (
	AnyState      UserState = ""
	StateActive   UserState = "active"   // activated and not disabled
	StateInactive UserState = "inactive" // not yet activated, not disabled
	StateDisabled UserState = "disabled"
	StateLocked   UserState = "locked"
)

// UserQuery selects accounts for an operator.
type UserQuery struct {
	// EmailPrefix keeps accounts whose (normalized) email starts with it.
	EmailPrefix domain.Email
	State       UserState
	// After is the id of the last account of the previous page: the page
	// starts after it. Accounts that sign up meanwhile come at the end, so
	// a listing page by page misses none and repeats none.
	After string
	// Limit bounds the page; it must be positive.
	Limit int
	// Now is when the lock state is judged.
	Now time.Time
}

// AccountSummary is an account as an operator lists it.
type AccountSummary struct {
	domain.User
	// LockedUntil is when the account's login lock ends; zero when none
	// is in force.
	LockedUntil time.Time
}

// State is the state the account is listed by: disabled, else locked while
// a lock is in force, else active or inactive.
func (a AccountSummary) State() UserState {
	switch {
	case a.Disabled():
		return StateDisabled
	case !a.LockedUntil.IsZero():
		return StateLocked
	case a.Active:
		return StateActive
	}
	return StateInactive
}

// UserKey names one account, by id or by email.
type UserKey struct {
	id    string
	email domain.Email
}

// UserID names the account with id.
func UserID(id string) UserKey { return UserKey{id: id} }

// UserEmail names the account with the normalized email.
func UserEmail(email domain.Email) UserKey { return UserKey{email: email} }

// ID returns the id the key names, or "" if it names an email.
func (k UserKey) ID() string { return k.id }

// Email returns the email the key names, or "" if it names an id.
func (k UserKey) Email() domain.Email { return k.email }

// Effects are what an account change brings with it, saved in the same
// transaction as the change. The zero value brings nothing.
type Effects struct {
	// Mail is queued for delivery.
	Mail []OutgoingMail
	// EndSessions, when set, ends the account's live sessions.
	EndSessions *EndSessions
	// LiftLoginLock ends the account's login lock and the slow-downs of its
	// clients (see LoginThrottle), as a password reset or the unlock link
	// does.
	LiftLoginLock bool
	// Events are appended to the audit log.
	Events []domain.AuditEvent
}

// EndSessions says which sessions an account change ends: every live one
// but Except (if set), as of At.
type EndSessions struct {
	At     time.Time
	Except string
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

// Outbox is the delivery side of the mail queue that UserStore fills. Any
// number of dispatchers, in one process or in several replicas, may deliver
// from one outbox: a message is claimed by one of them at a time.
type Outbox interface {
	// ClaimMail claims up to limit pending messages whose next attempt is
	// due at now, oldest first: by due time, then in the order they were
	// queued. A claimed message is not due again before now+lease, so no
	// other claim returns it meanwhile; the claimer then records the
	// outcome (MarkSent, RetryLater, MarkDead), keeps its claim longer or
	// hands the message back (RescheduleMail). If the claimer dies, the
	// message falls due again when the lease runs out, so it is delayed,
	// never lost. A claim is not a delivery attempt: Attempts is unchanged.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]QueuedMail, error)

	// RescheduleMail makes a pending message due at at: now, to hand back a
	// claimed message untried, as when the dispatcher stops; later, to keep
	// a claim while a send takes long. A settled message stays settled.
	RescheduleMail(ctx context.Context, id string, at time.Time) error

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

// DatabaseStatus is what a readiness check tells of the database.
type DatabaseStatus struct {
	// Engine is "sqlite" or "postgres".
	Engine string
	// Connections the pool holds open, how many are in use, and the most
	// it opens.
	Connections, InUse, MaxConnections int
}

// MailNotifier hears that mail has been queued, so that delivery need not
// wait for the next poll of the outbox.
type MailNotifier interface {
	MailQueued()
}

// SessionStore persists sessions. Each change saves the audit events it is
// given in the same transaction.
type SessionStore interface {
	// CreateSession stores a new session, the start of a login, and records
	// its creation as the account's last login.
	CreateSession(ctx context.Context, s domain.Session, events ...domain.AuditEvent) error

	// Session returns the session with the given id, or
	// domain.ErrSessionNotFound. It reads without taking the write lock.
	Session(ctx context.Context, id string) (domain.Session, error)

	// SessionWithUser returns the session with the given id and the
	// account it belongs to, read together, or domain.ErrSessionNotFound.
	// It reads without taking the write lock. A refresh checks both, and a
	// database that replicas reach over the network answers both in one
	// round trip.
	SessionWithUser(ctx context.Context, id string) (domain.Session, domain.User, error)

	// UpdateSession loads the session with the given id inside one write
	// transaction and passes it to update; if update returns a nil error the
	// changed session is saved, with the events update returned, and
	// returned; otherwise nothing is saved and update's error is returned. It
	// returns domain.ErrSessionNotFound if there is no such session.
	UpdateSession(ctx context.Context, id string, update func(*domain.Session) ([]domain.AuditEvent, error)) (domain.Session, error)

	// SessionsOfUser returns the user's sessions that are live at now,
	// newest first.
	SessionsOfUser(ctx context.Context, userID string, now time.Time) ([]domain.Session, error)

	// RevokeSessions ends every live session of the user at now, except the
	// one with id except (if not empty), and returns how many it ended.
	RevokeSessions(ctx context.Context, userID string, now time.Time, except string, events ...domain.AuditEvent) (int, error)
}

// AuditLog is the append-only log of security events. Changes record their
// events through Effects and the session store's methods, in their own
// transactions; Record is for events that change nothing else, such as a
// failed login.
type AuditLog interface {
	// Record appends events.
	Record(ctx context.Context, events ...domain.AuditEvent) error

	// AuditEvents returns the events q selects, newest first.
	AuditEvents(ctx context.Context, q AuditQuery) ([]domain.AuditEvent, error)

	// PruneAudit deletes the events from before the given time and returns
	// how many.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// AuditQuery selects audit events.
type AuditQuery struct {
	// UserID keeps the events of one account; "" keeps all.
	UserID string
	// Types keeps events of these types; none keeps all.
	Types []domain.EventType
	// Since and Until bound the events' times (Since inclusive, Until
	// exclusive); zero leaves that side open.
	Since, Until time.Time
	// Before is the ID of the last event of the previous page: the page
	// holds older ones. Zero starts from the newest.
	Before int64
	// Limit bounds the page; it must be positive.
	Limit int
}

// AdminKeyStore keeps the admin API's keys. Each change saves its audit
// event in the same transaction.
type AdminKeyStore interface {
	// CreateAdminKey stores a new key. It returns domain.ErrAdminKeyExists
	// if a key, revoked or not, has the name: names are never reused, so
	// that the audit log names one key by each.
	CreateAdminKey(ctx context.Context, key domain.AdminKey, event domain.AuditEvent) error

	// AdminKeys returns every key, revoked ones too, by name.
	AdminKeys(ctx context.Context) ([]domain.AdminKey, error)

	// RevokeAdminKey revokes the key with the name at at. It returns
	// domain.ErrAdminKeyNotFound if there is no such key; revoking a
	// revoked key keeps its first time.
	RevokeAdminKey(ctx context.Context, name string, at time.Time, event domain.AuditEvent) error
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
	// AMR is how the user proved who they were (RFC 8176), carried in the
	// token's "amr" claim.
	AMR []string
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

// Rate is a token bucket: Burst events at once, refilled at Events per Per.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// Limit is a named set of rates that apply together to one kind of request,
// such as signups per client source. A Limit without rates is off.
type Limit struct {
	Name  string
	Rates []Rate
}

// Off reports whether the limit has no rates.
func (l Limit) Off() bool { return len(l.Rates) == 0 }

// RateLimiter spends from token buckets kept per limit and subject. State
// may live in memory (one process) or in a shared store (a fleet).
type RateLimiter interface {
	// Take spends one event from subject's buckets under every rate of
	// limit at now. It returns zero when the event is allowed, or how long
	// until it would be. Implementations keep a fixed-size digest of the
	// subject, never the subject itself, and bound the state they hold.
	Take(ctx context.Context, limit Limit, subject string, now time.Time) (time.Duration, error)
}

// LoginAttempt is an attempt to log in that LoginThrottle admitted.
type LoginAttempt struct {
	Email  domain.Email
	Source string
	// Locks reports that this attempt, if its password is wrong, has locked
	// the account until LockedUntil: the owner should be told.
	Locks       bool
	LockedUntil time.Time
}

// LoginThrottle keeps the runs of failed logins for accounts named by email,
// existing or not, and client sources, and applies a login policy to them
// atomically. It keeps the runs where the accounts are, so that a lock
// outlives a restart.
type LoginThrottle interface {
	// Admit decides under policy, before any password is checked, whether
	// an attempt on email from source may go ahead at now, and if so counts
	// it as a failure at once, so that concurrent attempts cannot slip past
	// the limits before the first failure is recorded. It returns
	// domain.ErrAccountLocked or a too-many-requests error, each with a
	// RetryAfter, when the attempt must wait.
	Admit(ctx context.Context, policy domain.LoginPolicy, email domain.Email, source string, now time.Time) (LoginAttempt, error)

	// Succeeded records that the admitted attempt gave the right password:
	// the runs of failures it counted toward end.
	Succeeded(ctx context.Context, attempt LoginAttempt) error

	// LockedUntil returns when the login lock of email's account ends, or
	// the zero time when none is in force at now.
	LockedUntil(ctx context.Context, email domain.Email, now time.Time) (time.Time, error)
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
