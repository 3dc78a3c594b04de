package ports

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"authapi/domain"
)

// Authenticator is the algorithm of authenticator apps: TOTP (RFC 6238)
// with the defaults of domain.TOTPStep and domain.TOTPDigits.
type Authenticator interface {
	// CodeAt returns the code of secret for the time step.
	CodeAt(secret []byte, step int64) (string, error)
	// Enrolment describes secret for an authenticator app, as account of
	// issuer.
	Enrolment(issuer, account string, secret []byte) (TOTPEnrolment, error)
}

// TOTPEnrolment is what a user needs to add a secret to an authenticator
// app: the secret itself, to type, its otpauth:// URI, and that URI as a QR
// code (a data: URI of a PNG image) to scan.
type TOTPEnrolment struct {
	Secret string
	URI    string
	QRCode string
}

// Sealer encrypts small secrets at rest under a key that never enters the
// database. A sealed secret opens only with the same context, which binds
// it to what it belongs to.
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	// Open returns ErrSealBroken for anything Seal did not make with this
	// key and context.
	Open(sealed, context []byte) ([]byte, error)
}

// ErrSealBroken reports a sealed secret that does not open: made under
// another key or for another context, or damaged.
var ErrSealBroken = errors.New("the sealed secret does not open with this key")

// ChallengeStore keeps the challenges of ceremonies that span requests,
// such as the second step of a login, so that any replica can finish what
// another started.
type ChallengeStore interface {
	// CreateChallenge stores a new challenge.
	CreateChallenge(ctx context.Context, c domain.Challenge) error
	// UpdateChallenge loads the challenge with id in one transaction and
	// passes it to update; if update returns nil the changed challenge is
	// saved and returned, otherwise nothing is saved and update's error is
	// returned. It returns domain.ErrChallengeNotFound if there is none.
	UpdateChallenge(ctx context.Context, id string, update func(*domain.Challenge) error) (domain.Challenge, error)
	// PruneChallenges deletes the challenges that expired before the given
	// time and returns how many.
	PruneChallenges(ctx context.Context, before time.Time) (int, error)
}

// PasskeyStore keeps the accounts' passkeys. Each change is saved with the
// effects it brings (a notice email, audit events) in one transaction.
type PasskeyStore interface {
	// AddPasskey stores a new passkey, unless its account already has
	// domain.MaxPasskeys (domain.ErrTooManyPasskeys) or its credential id
	// is registered, to any account (domain.ErrPasskeyExists). It returns
	// domain.ErrUserNotFound if the account is gone.
	AddPasskey(ctx context.Context, p domain.Passkey, fx Effects) error

	// Passkeys returns the account's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error)

	// PasskeyByCredentialID returns the passkey with the credential id,
	// or domain.ErrPasskeyNotFound.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error)

	// UpdatePasskey loads the account's passkey with id in one transaction
	// and passes it to update; if update returns nil, the changed passkey
	// (its name, sign count, backup state and last use; nothing else) and
	// the effects are saved together and the passkey is returned.
	// Otherwise nothing is saved and update's error is returned. It
	// returns domain.ErrPasskeyNotFound if the account has no such passkey.
	UpdatePasskey(ctx context.Context, userID, id string, update func(*domain.Passkey) (Effects, error)) (domain.Passkey, error)

	// DeletePasskey deletes the account's passkey with id and saves the
	// effects that fx returns for it, in one transaction. It returns
	// domain.ErrPasskeyNotFound if the account has no such passkey.
	DeletePasskey(ctx context.Context, userID, id string, fx func(domain.Passkey) (Effects, error)) error
}

// RelyingParty runs the WebAuthn ceremonies' protocol (W3C Web
// Authentication, level 3): the options a browser passes to
// navigator.credentials, and the checks of what it returns. It keeps no
// state: what a ceremony needs between its two requests is in
// Ceremony.State, which the caller keeps.
type RelyingParty interface {
	// RegistrationOptions starts registering a passkey for user, who has
	// the passkeys existing (which the authenticator is asked not to
	// register again), with challenge.
	RegistrationOptions(user PasskeyHolder, existing []domain.Passkey, challenge []byte) (Ceremony, error)

	// VerifyRegistration checks the browser's answer (the JSON of the
	// PublicKeyCredential) to the ceremony whose state is given, and
	// returns the new passkey's credential fields. Anything but a valid
	// answer to that ceremony from an allowed origin is
	// domain.ErrInvalidPasskey.
	VerifyRegistration(state []byte, user PasskeyHolder, response []byte) (domain.Passkey, error)

	// RegistrationChallenge reads which challenge a registration response
	// answers, without checking anything else. It returns
	// domain.ErrInvalidPasskey if the response is malformed.
	RegistrationChallenge(response []byte) (string, error)

	// LoginOptions starts a login with a passkey: of those in allowed, or,
	// when allowed is empty, with any passkey the authenticator holds for
	// this relying party (a discoverable credential).
	LoginOptions(allowed []domain.Passkey, challenge []byte) (Ceremony, error)

	// ReadAssertion reads what a browser returned to a login ceremony
	// without checking it: which challenge it answers, with which
	// credential, for which user handle. It returns domain.ErrInvalidPasskey
	// if the response is malformed.
	ReadAssertion(response []byte) (Assertion, error)

	// VerifyLogin checks the browser's answer to the login ceremony whose
	// state is given, made with one of user's passkeys. It returns the
	// passkey used, as it is after this use; an answer that does not
	// verify is domain.ErrInvalidPasskey. A signature counter that went
	// backwards is ErrPasskeyCloned, returned with the passkey used.
	VerifyLogin(state []byte, user PasskeyHolder, passkeys []domain.Passkey, response []byte) (PasskeyLogin, error)
}

// PasskeyHolder is the account a ceremony is for, as the authenticator
// knows it.
type PasskeyHolder struct {
	// Handle is the user handle stored in the authenticator: the account's
	// id, never personal data.
	Handle []byte
	// Name is the account's email; DisplayName the person's name.
	Name, DisplayName string
}

// Ceremony is the start of a WebAuthn ceremony: the options for the
// browser (JSON: {"publicKey": ...}) and the state its end needs.
type Ceremony struct {
	Options json.RawMessage
	State   []byte
	// Challenge is the challenge of the options, base64url-encoded, as
	// the browser's answer quotes it.
	Challenge string
}

// Assertion is what a login response says before it is checked.
type Assertion struct {
	Challenge    string
	CredentialID []byte
	UserHandle   []byte
}

// PasskeyLogin is a verified login with a passkey.
type PasskeyLogin struct {
	Passkey domain.Passkey
	// UserVerified reports that the authenticator verified the user (a PIN
	// or biometrics) for this login.
	UserVerified bool
}

// ErrPasskeyCloned reports an assertion whose signature counter is not
// above the stored one: another copy of the key may exist.
var ErrPasskeyCloned = errors.New("the passkey's signature counter went backwards")
