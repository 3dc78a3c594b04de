package ports

import (
	"context"
	"encoding/json"
	"time"

	"authapi/domain"
)

// SignupRequest is the input of a signup, as the user sent it.
type SignupRequest struct {
	Email     string
	Password  string
	FirstName string
	LastName  string
}

// IssuedToken is a signed token and how long it stays valid.
type IssuedToken struct {
	Token     string
	ExpiresIn time.Duration
}

// TokenPair is what a login returns, and a refresh when refresh tokens
// rotate; a refresh without rotation leaves Refresh empty.
type TokenPair struct {
	Access  IssuedToken
	Refresh IssuedToken
}

// AuthService is the driving port: the use cases of the authentication core.
// Use cases that take a domain.Client apply abuse limits to it and may fail
// with domain.ErrTooManyRequests (carrying a RetryAfter); Login may also fail
// with domain.ErrAccountLocked.
// Every error it returns is, or wraps, a *domain.Error with a code, except
// unexpected failures, which drivers report as internal errors.
type AuthService interface {
	// Signup creates an inactive account and queues the email with its
	// activation code in the same transaction.
	// Errors: validation failures, domain.ErrEmailTaken.
	Signup(ctx context.Context, req SignupRequest, client domain.Client) (domain.User, error)

	// Verify activates the account if proof, the code typed or the token of
	// the emailed link, matches its pending activation code.
	// Errors: domain.ErrUserNotFound, ErrAlreadyActive, ErrInvalidCode,
	// ErrCodeExpired, ErrCodeExhausted, validation failures; with accounts
	// concealed, ErrInvalidCode for all but validation failures.
	Verify(ctx context.Context, email string, proof domain.Proof, client domain.Client) error

	// ResendActivation issues a new activation code, invalidating the old
	// one, and queues its email, superseding any unsent earlier one.
	// Errors: domain.ErrUserNotFound, ErrAlreadyActive; neither with
	// accounts concealed.
	ResendActivation(ctx context.Context, email string, client domain.Client) error

	// Login checks credentials, starts a session for client and returns its
	// access and refresh tokens. Errors: domain.ErrInvalidCredentials
	// (unknown email or wrong password, indistinguishable),
	// ErrAccountNotActive (right password, inactive account),
	// ErrAccountDisabled (right password, disabled by an operator),
	// ErrAccountLocked (too many failures on the account, from anywhere).
	Login(ctx context.Context, email, password string, client domain.Client) (TokenPair, error)

	// Refresh exchanges a refresh token of a live session, whose user exists
	// and is active, for a new access token. With rotation on it also returns
	// a new refresh token, and presenting a replaced one ends the session.
	// Errors: domain.ErrInvalidToken.
	Refresh(ctx context.Context, refreshToken string, client domain.Client) (TokenPair, error)

	// Logout ends the session of a refresh token. Errors: ErrInvalidToken.
	Logout(ctx context.Context, refreshToken string, client domain.Client) error

	// LogoutAll ends every session of the user and returns how many.
	LogoutAll(ctx context.Context, userID string, client domain.Client) (int, error)

	// Sessions lists the user's live sessions, newest first.
	Sessions(ctx context.Context, userID string) ([]domain.Session, error)

	// EndSession ends one of the user's sessions.
	// Errors: domain.ErrSessionNotFound, also for another user's session.
	EndSession(ctx context.Context, userID, sessionID string, client domain.Client) error

	// Activity returns the user's own recent security events, newest
	// first: sign-ins, failed ones, password changes and the like.
	Activity(ctx context.Context, userID string) ([]domain.AuditEvent, error)

	// ForgotPassword emails a reset code to an active account, the
	// activation code again to an inactive one, and nothing to an unknown
	// address, answering all three alike. Errors: validation failures,
	// domain.ErrTooManyRequests.
	ForgotPassword(ctx context.Context, email string, client domain.Client) error

	// ResetPassword sets a new password with a reset code or link token,
	// ends every session of the account and lifts a login lock. Errors:
	// domain.ErrInvalidResetCode (also for an unknown email), validation
	// failures of the new password.
	ResetPassword(ctx context.Context, email string, proof domain.Proof, newPassword string, client domain.Client) error

	// Unlock lifts the login lock of an account with the token of the link
	// emailed when it locked. Errors: domain.ErrInvalidUnlockToken (also for
	// an unknown email).
	Unlock(ctx context.Context, email, token string, client domain.Client) error

	// ChangePassword replaces the password of the token's user, who gives
	// the current one; other sessions end, the token's own too if
	// endCurrent. Errors: domain.ErrInvalidCredentials (counted as a failed
	// login), validation failures.
	// With two-step login on it needs a recent second factor: the
	// session's, or code. Errors also: domain.ErrMFAStepUpRequired,
	// ErrInvalidMFACode.
	ChangePassword(ctx context.Context, claims domain.Claims, current, newPassword string, endCurrent bool, code string, client domain.Client) error

	// DeleteAccount deletes the user's account and sessions after checking
	// the password, and a recent second factor as ChangePassword does.
	// Errors: domain.ErrInvalidCredentials, ErrMFAStepUpRequired.
	DeleteAccount(ctx context.Context, claims domain.Claims, password, code string, client domain.Client) error

	// LoginMFA finishes a login that answered domain.ErrMFARequired, with
	// its mfa_token and a code of the authenticator app or a recovery
	// code. Errors: domain.ErrInvalidToken (token expired, used, or ended
	// by 5 wrong codes), ErrInvalidMFACode, ErrAccountLocked, validation
	// failures.
	LoginMFA(ctx context.Context, mfaToken, code, recoveryCode string, client domain.Client) (TokenPair, error)

	// StartTOTP starts enrolling an authenticator app and returns what it
	// needs. Errors: domain.ErrMFAAlreadyEnabled.
	StartTOTP(ctx context.Context, userID string) (TOTPEnrolment, error)

	// ConfirmTOTP turns two-step login on with a current code of the
	// enrolment, and returns the recovery codes, shown once. Errors:
	// domain.ErrInvalidMFACode, ErrNoPendingTOTP, ErrMFAAlreadyEnabled.
	ConfirmTOTP(ctx context.Context, claims domain.Claims, code string, client domain.Client) ([]string, error)

	// NewRecoveryCodes replaces the recovery codes, with a recent second
	// factor. Errors: domain.ErrMFANotEnabled, ErrMFAStepUpRequired.
	NewRecoveryCodes(ctx context.Context, claims domain.Claims, code string, client domain.Client) ([]string, error)

	// DisableTOTP turns two-step login off with the password and a code or
	// a recovery code. Errors: domain.ErrInvalidCredentials,
	// ErrInvalidMFACode, ErrMFANotEnabled.
	DisableTOTP(ctx context.Context, claims domain.Claims, password, code, recoveryCode string, client domain.Client) error

	// PasskeyRegistrationOptions starts registering a passkey for the
	// token's user and returns the WebAuthn creation options
	// ({"publicKey": ...}) for navigator.credentials.create. With
	// two-step login on it needs a recent second factor, as ChangePassword
	// does. Errors: domain.ErrMFAStepUpRequired, ErrInvalidMFACode,
	// ErrTooManyPasskeys.
	PasskeyRegistrationOptions(ctx context.Context, claims domain.Claims, code string, client domain.Client) (json.RawMessage, error)

	// AddPasskey finishes a registration with the browser's answer (the
	// PublicKeyCredential as JSON), keeps the passkey under name and
	// emails the owner. Errors: domain.ErrInvalidPasskey (malformed, for
	// another origin or relying party, or not answering a current
	// registration of this user), ErrPasskeyExists, ErrTooManyPasskeys,
	// validation failures.
	AddPasskey(ctx context.Context, claims domain.Claims, credential []byte, name string, client domain.Client) (domain.Passkey, error)

	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error)

	// RenamePasskey renames one of the user's passkeys.
	// Errors: domain.ErrPasskeyNotFound, also for another user's passkey.
	RenamePasskey(ctx context.Context, claims domain.Claims, id, name string, client domain.Client) (domain.Passkey, error)

	// RemovePasskey deletes one of the user's passkeys and emails the
	// owner. Errors: domain.ErrPasskeyNotFound.
	RemovePasskey(ctx context.Context, claims domain.Claims, id string, client domain.Client) error

	// PasskeyLoginOptions starts a login with a passkey alone and returns
	// the WebAuthn request options for navigator.credentials.get: any
	// passkey of this service the authenticator holds will do.
	PasskeyLoginOptions(ctx context.Context, client domain.Client) (json.RawMessage, error)

	// LoginWithPasskey finishes a login with the browser's answer and
	// starts a session, as Login does. Errors: domain.ErrInvalidPasskey,
	// and those of Login for an account that cannot log in;
	// ErrMFARequired for an account with two-step login on when the
	// authenticator did not verify the user.
	LoginWithPasskey(ctx context.Context, credential []byte, client domain.Client) (TokenPair, error)

	// LoginMFAWithPasskey finishes a login that answered
	// domain.ErrMFARequired with passkey options, with the browser's
	// answer to them. Errors: as LoginMFA, and domain.ErrInvalidPasskey.
	LoginMFAWithPasskey(ctx context.Context, mfaToken string, credential []byte, client domain.Client) (TokenPair, error)

	// Authenticate verifies an access token and returns its claims. It does
	// no I/O, so protected routes can call it on every request.
	// Errors: domain.ErrInvalidToken.
	Authenticate(ctx context.Context, accessToken string) (domain.Claims, error)

	// CurrentUser returns the account of an authenticated user.
	// Errors: domain.ErrInvalidToken if the account no longer exists.
	CurrentUser(ctx context.Context, userID string) (domain.User, error)
}
