package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Passkey is a WebAuthn credential of an account: a key pair whose private
// half never leaves the user's authenticator (a security key, a phone, a
// password manager). The service keeps the public half and what it needs
// to check the authenticator's later signatures.
type Passkey struct {
	// ID names the passkey in the API; CredentialID is the authenticator's
	// own name for it.
	ID           string
	UserID       string
	CredentialID []byte
	// PublicKey is the credential's public key, COSE-encoded.
	PublicKey         []byte
	AttestationType   string
	AttestationFormat string
	// AAGUID names the authenticator's model (16 bytes, zero if unknown).
	AAGUID []byte
	// SignCount is the authenticator's signature counter as last seen;
	// authenticators without one always report 0.
	SignCount  uint32
	Transports []string
	// Attachment is "platform" (built into the device) or "cross-platform"
	// (a security key, a phone), as the browser reported it.
	Attachment string
	// The authenticator's flags: UserVerified when the user was verified
	// (PIN, biometrics) at registration; BackupEligible when the key may be
	// synced to other devices, BackupState when it is.
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	// Name is the owner's label for it, such as "Work laptop".
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// Passkey limits: enough for every device a person owns, and a bound on
// what one account can store and every login must read.
const (
	MaxPasskeys          = 20
	MaxPasskeyNameLength = 64
	DefaultPasskeyName   = "Passkey"
	PasskeyChallengeTTL  = 5 * time.Minute
)

// AMR values (RFC 8176) of passkeys.
const (
	// AMRHardwareKey is a key bound to one device.
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey is a key that may be copied between devices, as synced
	// passkeys are.
	AMRSoftwareKey = "swk"
	// AMRUser is the authenticator's verification of the user (a PIN or
	// biometrics): with the key, a second factor.
	AMRUser = "user"
)

// The purposes of passkey ceremonies' challenges.
const (
	ChallengePasskeyRegister ChallengePurpose = "passkey_register"
	ChallengePasskeyLogin    ChallengePurpose = "passkey_login"
)

// Errors of passkeys.
var (
	ErrPasskeyNotFound = &Error{Code: CodePasskeyNotFound, Message: "no passkey of this account has this id"}
	ErrInvalidPasskey  = &Error{Code: CodeInvalidPasskey, Message: "the passkey response is malformed, or does not answer a current challenge of this service for this origin"}
	ErrPasskeyExists   = &Error{Code: CodePasskeyExists, Message: "this passkey is already registered"}
	ErrTooManyPasskeys = &Error{Code: CodeTooManyPasskeys, Message: "this account has as many passkeys as it may (20); remove one first"}
	// ErrPasskeysOff answers the passkey ceremonies of a service that has
	// no relying party: its public URL names no domain that passkeys could
	// be bound to, and none is configured.
	ErrPasskeysOff = &Error{Code: CodePasskeysOff, Message: "passkeys are not set up on this service: its operator has to set AUTH_WEBAUTHN_RP_ID"}
)

// AMR is how a login with the passkey proved who the user was: the kind of
// key, and the user's verification if the authenticator did it.
func (p Passkey) AMR(userVerified bool) []string {
	kind := AMRHardwareKey
	if p.BackupEligible {
		kind = AMRSoftwareKey
	}
	if userVerified {
		return []string{kind, AMRUser}
	}
	return []string{kind}
}

// Use records a login with the passkey at now, with the authenticator's
// new signature counter.
func (p *Passkey) Use(signCount uint32, backedUp bool, now time.Time) {
	p.SignCount = signCount
	p.BackupState = backedUp
	p.LastUsedAt = now
}

// PasskeyName checks a name given to a passkey: printable text of at most
// MaxPasskeyNameLength characters, trimmed. An empty name is
// DefaultPasskeyName.
func PasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return DefaultPasskeyName, nil
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", ValidationError("name", "must be printable text")
	case utf8.RuneCountInString(name) > MaxPasskeyNameLength:
		return "", ValidationError("name", "must be at most 64 characters")
	}
	return name, nil
}

// PasskeyMethod is the name of passkeys among the second factors that
// mfa_required lists.
const PasskeyMethod = "webauthn"
