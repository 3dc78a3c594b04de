package domain

import (
	"strings"
	"time"
)

// EventType names a security event of the audit log. Operators filter on
// these names, so a name never changes meaning once released.
type EventType string

// The events of the audit log.
const (
	EventSignup                 EventType = "signup"
	EventActivation             EventType = "activation"
	EventLogin                  EventType = "login"
	EventLoginFailed            EventType = "login_failed"
	EventLockout                EventType = "lockout"
	EventUnlock                 EventType = "unlock"
	EventLogout                 EventType = "logout"
	EventLogoutAll              EventType = "logout_all"
	EventSessionEnded           EventType = "session_ended"
	EventRefreshReuse           EventType = "refresh_token_reuse"
	EventPasswordResetRequested EventType = "password_reset_requested"
	EventPasswordReset          EventType = "password_reset"
	EventPasswordChanged        EventType = "password_changed"
	EventAccountDeleted         EventType = "account_deleted"
	EventAccountDisabled        EventType = "account_disabled"
	EventAccountEnabled         EventType = "account_enabled"
	EventEmailVerified          EventType = "email_verified"
	EventNamesChanged           EventType = "names_changed"
	EventSessionsRevoked        EventType = "sessions_revoked"
	EventAdminKeyCreated        EventType = "admin_key_created"
	EventAdminKeyRevoked        EventType = "admin_key_revoked"
	EventMFAEnabled             EventType = "mfa_enabled"
	EventMFADisabled            EventType = "mfa_disabled"
	EventRecoveryCodesRenewed   EventType = "recovery_codes_renewed"
	EventRecoveryCodeUsed       EventType = "recovery_code_used"
	EventPasskeyAdded           EventType = "passkey_added"
	EventPasskeyRemoved         EventType = "passkey_removed"
	EventPasskeyRenamed         EventType = "passkey_renamed"
	// EventPasskeyCloneSuspected is a passkey whose signature counter went
	// backwards: two copies of its private key may be in use. The login
	// was refused.
	EventPasskeyCloneSuspected EventType = "passkey_clone_suspected"
)

// EventTypes lists every event type, for filters that check their input.
func EventTypes() []EventType {
	return []EventType{
		EventSignup, EventActivation, EventLogin, EventLoginFailed, EventLockout, EventUnlock,
		EventLogout, EventLogoutAll, EventSessionEnded, EventRefreshReuse,
		EventPasswordResetRequested, EventPasswordReset, EventPasswordChanged, EventAccountDeleted,
		EventAccountDisabled, EventAccountEnabled, EventEmailVerified, EventNamesChanged,
		EventSessionsRevoked, EventAdminKeyCreated, EventAdminKeyRevoked,
		EventMFAEnabled, EventMFADisabled, EventRecoveryCodesRenewed, EventRecoveryCodeUsed,
		EventPasskeyAdded, EventPasskeyRemoved, EventPasskeyRenamed, EventPasskeyCloneSuspected,
	}
}

// Reasons a login failed, as the audit log records them.
const (
	ReasonWrongPassword = "wrong_password"
	ReasonUnknownEmail  = "unknown_email"
	ReasonNotActive     = "not_active"
	ReasonDisabled      = "disabled"
	ReasonLocked        = "locked"
	ReasonLimited       = "limited"
	// ReasonWrongMFACode is a wrong second factor after a right password.
	ReasonWrongMFACode = "wrong_mfa_code"
	// ReasonWrongPasskey is a passkey assertion that did not verify.
	ReasonWrongPasskey = "wrong_passkey"
)

// Actors other than the account's owner.
const (
	// ActorCLI is an operator at the command line.
	ActorCLI = "cli"
	// adminActorPrefix marks an admin API key, by name.
	adminActorPrefix = "admin:"
)

// AdminActor is the actor of an action taken with the admin API key name.
func AdminActor(keyName string) string { return adminActorPrefix + keyName }

// AuditEvent is one entry of the audit log: what happened, to which
// account, and from where. It never holds a password, code or token.
type AuditEvent struct {
	// ID orders the events; the store assigns it.
	ID   int64
	At   time.Time
	Type EventType
	// UserID is the account, when one is known.
	UserID string
	// Email is the address a request named, as typed (trimmed, cut to
	// MaxEmailBytes), for events that may have no account, such as a
	// failed login.
	Email string
	// Reason says why, for failures, and which key, for the events of
	// admin keys.
	Reason string
	// Actor is who acted when it is not the account's owner: an admin key
	// (AdminActor) or the command line (ActorCLI).
	Actor     string
	IP        string
	UserAgent string
}

// NewAuditEvent records that typ happened at now, for a request from
// client. The user agent is kept as a session keeps it.
func NewAuditEvent(typ EventType, now time.Time, client Client) AuditEvent {
	return AuditEvent{At: now, Type: typ, IP: client.IP, UserAgent: cleanUserAgent(client.UserAgent)}
}

// For sets the account the event is about.
func (e AuditEvent) For(userID string) AuditEvent {
	e.UserID = userID
	return e
}

// Naming sets the email a request named, cut to a bounded, printable size.
func (e AuditEvent) Naming(email string) AuditEvent {
	e.Email = cleanTypedEmail(email)
	return e
}

// Because sets the reason of a failure.
func (e AuditEvent) Because(reason string) AuditEvent {
	e.Reason = reason
	return e
}

// By sets the actor.
func (e AuditEvent) By(actor string) AuditEvent {
	e.Actor = actor
	return e
}

// cleanTypedEmail keeps what a request typed as an email, for the log:
// trimmed, printable and at most MaxEmailBytes long, whatever was sent.
func cleanTypedEmail(s string) string {
	s = cleanUserAgent(strings.TrimSpace(s))
	if len(s) > MaxEmailBytes {
		s = s[:MaxEmailBytes]
	}
	return strings.ToValidUTF8(s, "")
}
