package domain

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"io"
	"strings"
	"time"
)

// TOTP follows the defaults of RFC 6238 that every authenticator app
// accepts: HMAC-SHA-1, six digits, a code per 30-second step, and a window
// of one step either side for clocks that drift.
const (
	TOTPStep    = 30 * time.Second
	TOTPDigits  = 6
	TOTPWindow  = 1
	totpSecretN = 20 // bytes: RFC 4226's recommended 160 bits
)

// Recovery codes: ten, each of 10 characters from a 32-letter alphabet (50
// bits), written in two groups of five to be copied by hand.
const (
	RecoveryCodeCount = 10
	recoveryCodeChars = 10
)

// The purpose of recovery codes' hashes; part of stored hashes, never to
// change.
const PurposeRecoveryCode CodePurpose = "authapi recovery code v1"

// AMR values (RFC 8176) that tokens carry: how the session's user proved
// who they were.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp" // a code from an authenticator app
	AMRMFA      = "mfa" // a second factor, here a recovery code
)

// StepUpWindow is how recent a second factor must be for the actions that
// need one (changing the password, deleting the account, turning the
// second factor off, new recovery codes).
const StepUpWindow = 10 * time.Minute

// MFA is an account's second factor. Secrets are sealed by the caller
// before they reach it: the account holds them only encrypted.
type MFA struct {
	// TOTPSecret is the sealed secret of the authenticator app; nil while
	// TOTP is off.
	TOTPSecret []byte
	// TOTPEnabledAt is when TOTP was turned on.
	TOTPEnabledAt time.Time
	// PendingTOTPSecret is a sealed secret being enrolled, until a code of
	// it confirms the enrolment.
	PendingTOTPSecret []byte
	PendingTOTPAt     time.Time
	// LastTOTPStep is the step of the last code accepted: a code of it, or
	// of an earlier step, is refused, so that no code works twice.
	LastTOTPStep int64
	// RecoveryCodes are the keyed hashes of the recovery codes not yet used.
	RecoveryCodes [][]byte
}

// Enabled reports whether the account has a second factor.
func (m MFA) Enabled() bool { return len(m.TOTPSecret) > 0 }

// Methods names the second factors a login may use.
func (m MFA) Methods() []string {
	if !m.Enabled() {
		return nil
	}
	methods := []string{"totp"}
	if len(m.RecoveryCodes) > 0 {
		methods = append(methods, "recovery_code")
	}
	return methods
}

// Errors of the second factor.
var (
	ErrMFARequired       = &Error{Code: CodeMFARequired, Message: "the password is right; a second factor is required: send a code from the authenticator app, or a recovery code, with the mfa_token to POST /login/mfa"}
	ErrInvalidMFACode    = &Error{Code: CodeInvalidMFACode, Message: "the code is wrong, already used, or not current"}
	ErrMFAStepUpRequired = &Error{Code: CodeMFAStepUpRequired, Message: "this needs a second factor from the last 10 minutes: send a current code from the authenticator app"}
	ErrMFAAlreadyEnabled = &Error{Code: CodeMFAAlreadyEnabled, Message: "two-step login is already on; turn it off first to enrol another authenticator"}
	ErrMFANotEnabled     = &Error{Code: CodeMFANotEnabled, Message: "two-step login is not on for this account"}
	ErrNoPendingTOTP     = &Error{Code: CodeNoPendingTOTP, Message: "no enrolment is pending; start one with POST /me/mfa/totp"}
)

// MFARequired is the answer to a right password of an account with a
// second factor: a token for the second step, and the methods it accepts.
func MFARequired(mfaToken string, methods []string) *Error {
	e := *ErrMFARequired
	e.MFAToken, e.Methods = mfaToken, methods
	return &e
}

// GenerateTOTPSecret draws a new authenticator secret from r.
func GenerateTOTPSecret(r io.Reader) ([]byte, error) {
	secret := make([]byte, totpSecretN)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return secret, nil
}

// TOTPStepAt is the time step at t.
func TOTPStepAt(t time.Time) int64 { return t.Unix() / int64(TOTPStep/time.Second) }

// MatchTOTP looks for the step, in the window around now, whose code is
// code, newer than the last accepted step; codeAt computes the code of a
// step. It returns the step found, or ErrInvalidMFACode. It compares every
// candidate in full, so that its time says nothing about which one matched.
func MatchTOTP(code string, now time.Time, lastStep int64, codeAt func(step int64) (string, error)) (int64, error) {
	code = strings.TrimSpace(code)
	if len(code) != TOTPDigits || strings.Trim(code, "0123456789") != "" {
		return 0, ErrInvalidMFACode
	}
	current := TOTPStepAt(now)
	var found int64
	for step := current - TOTPWindow; step <= current+TOTPWindow; step++ {
		want, err := codeAt(step)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && found == 0 {
			found = step
		}
	}
	if found == 0 {
		return 0, ErrInvalidMFACode
	}
	return found, nil
}

// StartTOTP records a sealed secret being enrolled, replacing any pending
// one. An account with TOTP on must turn it off first.
func (u *User) StartTOTP(sealed []byte, now time.Time) error {
	if u.MFA.Enabled() {
		return ErrMFAAlreadyEnabled
	}
	u.MFA.PendingTOTPSecret, u.MFA.PendingTOTPAt = sealed, now
	u.UpdatedAt = now
	return nil
}

// ConfirmTOTP turns TOTP on with the pending secret, accepted at step, and
// sets recovery codes from hashes.
func (u *User) ConfirmTOTP(step int64, recoveryHashes [][]byte, now time.Time) error {
	if len(u.MFA.PendingTOTPSecret) == 0 {
		return ErrNoPendingTOTP
	}
	u.MFA = MFA{
		TOTPSecret:    u.MFA.PendingTOTPSecret,
		TOTPEnabledAt: now,
		LastTOTPStep:  step,
		RecoveryCodes: recoveryHashes,
	}
	u.UpdatedAt = now
	return nil
}

// DisableMFA turns the second factor off and forgets its secrets.
func (u *User) DisableMFA(now time.Time) {
	u.MFA = MFA{}
	u.UpdatedAt = now
}

// AcceptTOTPStep records step as used, after MatchTOTP found it.
func (u *User) AcceptTOTPStep(step int64, now time.Time) {
	u.MFA.LastTOTPStep = step
	u.UpdatedAt = now
}

// RecoveryCodes are codes shown to their owner once and kept only as
// keyed hashes; each works once, in place of an authenticator code.
type RecoveryCodes struct {
	Codes  []string
	Hashes [][]byte
}

// recoveryAlphabet is Crockford's base32 alphabet in lower case, which has
// no letters that read like digits (no i, l, o, u).
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// GenerateRecoveryCodes draws a new set of codes for userID from r, with
// their hashes under key.
func GenerateRecoveryCodes(key CodeKey, userID string, r io.Reader) (RecoveryCodes, error) {
	var set RecoveryCodes
	buf := make([]byte, recoveryCodeChars)
	for range RecoveryCodeCount {
		if _, err := io.ReadFull(r, buf); err != nil {
			return RecoveryCodes{}, fmt.Errorf("generate recovery codes: %w", err)
		}
		var b strings.Builder
		for i, c := range buf {
			if i == recoveryCodeChars/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)])
		}
		code := b.String()
		set.Codes = append(set.Codes, code)
		set.Hashes = append(set.Hashes, key.hash(PurposeRecoveryCode, userID, normalizeRecoveryCode(code)))
	}
	return set, nil
}

// normalizeRecoveryCode lets a code be typed as shown, in either case, with
// or without the dash or spaces.
func normalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, code)
}

// UseRecoveryCode spends the recovery code, if it is one of the account's
// unused codes, and reports how many are left. Any other code is
// ErrInvalidMFACode. Every stored hash is compared, so that the time says
// nothing of which matched.
func (u *User) UseRecoveryCode(key CodeKey, code string, now time.Time) (left int, err error) {
	if len(code) > 64 {
		return 0, ErrInvalidMFACode
	}
	hash := key.hash(PurposeRecoveryCode, u.ID, normalizeRecoveryCode(code))
	match := -1
	for i, h := range u.MFA.RecoveryCodes {
		if hmac.Equal(h, hash) && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return 0, ErrInvalidMFACode
	}
	codes := make([][]byte, 0, len(u.MFA.RecoveryCodes)-1)
	codes = append(codes, u.MFA.RecoveryCodes[:match]...)
	u.MFA.RecoveryCodes = append(codes, u.MFA.RecoveryCodes[match+1:]...)
	u.UpdatedAt = now
	return len(u.MFA.RecoveryCodes), nil
}

// ReplaceRecoveryCodes sets a new set of recovery codes; the old set is void.
func (u *User) ReplaceRecoveryCodes(hashes [][]byte, now time.Time) error {
	if !u.MFA.Enabled() {
		return ErrMFANotEnabled
	}
	u.MFA.RecoveryCodes = hashes
	u.UpdatedAt = now
	return nil
}

// TOTPSecretBase32 writes a secret as authenticator apps take it typed in.
func TOTPSecretBase32(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}
