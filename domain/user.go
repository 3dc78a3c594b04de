package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on user-supplied fields.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
	MaxNameLength     = 100
)

// User is an account and the state of its activation. A user starts inactive
// with an activation code pending; verifying the code activates the account,
// and only active accounts may log in.
type User struct {
	ID           string
	Email        Email
	FirstName    string
	LastName     string
	PasswordHash string
	Active       bool
	Activation   OneTimeCode
	// PasswordReset is the pending password reset code, if any.
	PasswordReset OneTimeCode
	// WrongCodes counts the wrong codes typed for this account, across
	// every activation and reset code it was sent.
	WrongCodes WrongCodes
	// Unlock is the pending unlock link, emailed when a campaign of wrong
	// passwords locked the account, if any.
	Unlock      PendingLink
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ActivatedAt time.Time // zero until the account is activated
	// DisabledAt is when an operator disabled the account; zero while it is
	// enabled. A disabled account cannot log in or refresh a token.
	DisabledAt time.Time
	// LastLoginAt is when a session of the account last started; zero if
	// none ever did. The store keeps it as sessions start.
	LastLoginAt time.Time
	// MFA is the account's second factor, if it has one.
	MFA MFA
}

// Registration is a validated signup request, ready to become a User once the
// password has been hashed.
type Registration struct {
	Email     Email
	Password  string
	FirstName string
	LastName  string
}

// NewRegistration validates a signup request and normalizes its fields. The
// error lists every invalid field, not just the first.
func NewRegistration(email, password, firstName, lastName string) (Registration, error) {
	var v Validation
	normalized, problem := parseEmail(email)
	if problem != "" {
		v.Add("email", problem)
	}
	if msg := passwordProblem(password, normalized); msg != "" {
		v.Add("password", msg)
	}
	first, msg := cleanName(firstName)
	if msg != "" {
		v.Add("first_name", msg)
	}
	last, msg := cleanName(lastName)
	if msg != "" {
		v.Add("last_name", msg)
	}
	if err := v.Err(); err != nil {
		return Registration{}, err
	}
	return Registration{Email: normalized, Password: password, FirstName: first, LastName: last}, nil
}

// NewUser creates an inactive account for a registration whose password has
// been hashed, with its first activation code pending.
func NewUser(id string, r Registration, passwordHash string, key CodeKey, secrets CodeSecrets, now time.Time, codeTTL time.Duration) User {
	u := User{
		ID:           id,
		Email:        r.Email,
		FirstName:    r.FirstName,
		LastName:     r.LastName,
		PasswordHash: passwordHash,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	u.Activation = newOneTimeCode(key, activationPurposes, id, secrets, now, codeTTL)
	return u
}

// IssueActivationCode replaces any pending code with a new one, so the old
// code stops working. An active account needs no code.
func (u *User) IssueActivationCode(key CodeKey, secrets CodeSecrets, now time.Time, ttl time.Duration) error {
	if u.Active {
		return ErrAlreadyActive
	}
	u.Activation = newOneTimeCode(key, activationPurposes, u.ID, secrets, now, ttl)
	u.UpdatedAt = now
	return nil
}

// Activate checks proof and, if it matches, activates the account and clears
// the code. A wrong code counts as an attempt; the caller must persist the
// user even when Activate returns an error, or the attempt limits are void.
func (u *User) Activate(key CodeKey, proof Proof, now time.Time) error {
	if u.Active {
		return ErrAlreadyActive
	}
	if err := u.Activation.check(key, activationPurposes, u.ID, proof, &u.WrongCodes, now); err != nil {
		u.UpdatedAt = now
		return err
	}
	u.Active = true
	u.Activation = OneTimeCode{}
	u.ActivatedAt = now
	u.UpdatedAt = now
	return nil
}

// IssuePasswordResetCode starts a password reset, replacing any pending
// reset code. Only active accounts reset passwords; an inactive one needs
// its activation first.
func (u *User) IssuePasswordResetCode(key CodeKey, secrets CodeSecrets, now time.Time, ttl time.Duration) error {
	if !u.Active {
		return ErrAccountNotActive
	}
	u.PasswordReset = newOneTimeCode(key, resetPurposes, u.ID, secrets, now, ttl)
	u.UpdatedAt = now
	return nil
}

// CheckPasswordReset tells whether proof matches the pending reset code
// without spending it, so that a caller can judge the new password only for
// someone who holds the code. Wrong, expired, used and exhausted codes all
// fail with ErrInvalidResetCode, so the answer tells an attacker nothing; a
// wrong code counts as an attempt, so the caller must persist the user on
// failure.
func (u *User) CheckPasswordReset(key CodeKey, proof Proof, now time.Time) error {
	if err := u.PasswordReset.check(key, resetPurposes, u.ID, proof, &u.WrongCodes, now); err != nil {
		u.UpdatedAt = now
		return ErrInvalidResetCode
	}
	return nil
}

// ResetPassword checks proof as CheckPasswordReset does and, if it matches,
// sets the new password hash and clears the code.
func (u *User) ResetPassword(key CodeKey, proof Proof, newPasswordHash string, now time.Time) error {
	if err := u.CheckPasswordReset(key, proof, now); err != nil {
		return err
	}
	u.SetPasswordHash(newPasswordHash, now)
	return nil
}

// SetPasswordHash replaces the password and voids any pending reset code,
// which was issued for the old one.
func (u *User) SetPasswordHash(hash string, now time.Time) {
	u.PasswordHash = hash
	u.PasswordReset = OneTimeCode{}
	u.UpdatedAt = now
}

// IssueUnlockLink records the token of the link that lets the owner lift a
// lock at once, replacing any earlier one.
func (u *User) IssueUnlockLink(key CodeKey, token LinkToken, now time.Time, ttl time.Duration) {
	u.Unlock = newPendingLink(key, PurposeUnlockLink, u.ID, token, now, ttl)
	u.UpdatedAt = now
}

// UseUnlockLink spends the pending unlock link if token is its token. Any
// failure is ErrInvalidUnlockToken.
func (u *User) UseUnlockLink(key CodeKey, token string, now time.Time) error {
	if !u.Unlock.matches(key, PurposeUnlockLink, u.ID, strings.TrimSpace(token), now) {
		return ErrInvalidUnlockToken
	}
	u.Unlock = PendingLink{}
	u.UpdatedAt = now
	return nil
}

// CheckCanLogin reports whether the account may receive tokens. It is called
// only after the password has been verified, so that "disabled" and "not
// active" are never revealed to someone who does not know the password.
func (u User) CheckCanLogin() error {
	switch {
	case u.Disabled():
		return ErrAccountDisabled
	case !u.Active:
		return ErrAccountNotActive
	}
	return nil
}

// Disabled reports whether an operator disabled the account.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// Disable stops the account from logging in, as of now; disabling a
// disabled account keeps its first time. The caller ends its sessions.
func (u *User) Disable(now time.Time) {
	if u.Disabled() {
		return
	}
	u.DisabledAt = now
	u.UpdatedAt = now
}

// Enable lets a disabled account log in again. Its old sessions stay ended.
func (u *User) Enable(now time.Time) {
	if !u.Disabled() {
		return
	}
	u.DisabledAt = time.Time{}
	u.UpdatedAt = now
}

// MarkVerified activates the account without a code, as an operator who
// checked the address by other means may; an active account stays as it is.
func (u *User) MarkVerified(now time.Time) {
	if u.Active {
		return
	}
	u.Active = true
	u.Activation = OneTimeCode{}
	u.ActivatedAt = now
	u.UpdatedAt = now
}

// Rename sets the account's names, checked as at signup. An empty name
// leaves that name as it is. The error lists every invalid name.
func (u *User) Rename(firstName, lastName string, now time.Time) error {
	var v Validation
	first, last := u.FirstName, u.LastName
	if firstName != "" {
		name, msg := cleanName(firstName)
		if msg != "" {
			v.Add("first_name", msg)
		}
		first = name
	}
	if lastName != "" {
		name, msg := cleanName(lastName)
		if msg != "" {
			v.Add("last_name", msg)
		}
		last = name
	}
	if err := v.Err(); err != nil {
		return err
	}
	if first != u.FirstName || last != u.LastName {
		u.FirstName, u.LastName = first, last
		u.UpdatedAt = now
	}
	return nil
}

func passwordProblem(password string, email Email) string {
	n := utf8.RuneCountInString(password)
	switch {
	case password == "":
		return "is required"
	case !utf8.ValidString(password):
		return "must be valid UTF-8"
	case n < MinPasswordLength:
		return "must be at least 8 characters"
	case n > MaxPasswordLength:
		return "must be at most 128 characters"
	case email != "" && strings.EqualFold(strings.TrimSpace(password), string(email)):
		return "must not be the email address"
	}
	return ""
}

// cleanName trims a name and returns a problem description if it is unusable.
func cleanName(raw string) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "must be valid UTF-8"
	}
	name := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", "is required"
	case n > MaxNameLength:
		return "", "must be at most 100 characters"
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return "", "must not contain control characters"
		case unicode.In(r, unicode.Zl, unicode.Zp):
			// U+2028 and U+2029 break lines in mail and logs, like a newline.
			return "", "must not contain line or paragraph separators"
		case isBidiOverride(r):
			return "", "must not contain text direction overrides"
		}
	}
	return name, ""
}

// isBidiOverride reports the Unicode bidirectional embeddings, overrides and
// isolates. Names are printed in emails ("Hello Astro"), where one of these
// can make the text after it read as something else. The marks U+200E and
// U+200F stay allowed: right-to-left names may need them, and they reorder
// nothing but themselves.
func isBidiOverride(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// CheckNewPassword applies the password rules of a registration to a new
// password of an existing account, reporting a problem under field.
func CheckNewPassword(field, password string, email Email) error {
	var v Validation
	if msg := passwordProblem(password, email); msg != "" {
		v.Add(field, msg)
	}
	return v.Err()
}
