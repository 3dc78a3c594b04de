package domain

import (
	"errors"
	"strings"
	"time"
)

// Code is a stable, machine-readable error identifier. Clients branch on it,
// so a code never changes meaning once released.
type Code string

// The codes the service can report. The HTTP adapter maps each to a status.
const (
	CodeValidationFailed   Code = "validation_failed"
	CodeEmailTaken         Code = "email_taken"
	CodeUserNotFound       Code = "user_not_found"
	CodeInvalidCode        Code = "invalid_code"
	CodeCodeExpired        Code = "code_expired"
	CodeCodeExhausted      Code = "code_exhausted"
	CodeAlreadyActive      Code = "already_active"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeAccountNotActive   Code = "account_not_active"
	CodeAccountDisabled    Code = "account_disabled"
	CodeMFARequired        Code = "mfa_required"
	CodeInvalidMFACode     Code = "invalid_mfa_code"
	CodeMFAStepUpRequired  Code = "mfa_step_up_required"
	CodeMFAAlreadyEnabled  Code = "mfa_already_enabled"
	CodeMFANotEnabled      Code = "mfa_not_enabled"
	CodeNoPendingTOTP      Code = "no_pending_totp"
	CodePasskeyNotFound    Code = "passkey_not_found"
	CodeInvalidPasskey     Code = "invalid_passkey"
	CodePasskeyExists      Code = "passkey_exists"
	CodeTooManyPasskeys    Code = "too_many_passkeys"
	CodePasskeysOff        Code = "passkeys_unavailable"
	CodeInvalidAdminKey    Code = "invalid_admin_key"
	CodeAdminKeyExists     Code = "admin_key_exists"
	CodeAdminKeyNotFound   Code = "admin_key_not_found"
	CodeInvalidToken       Code = "invalid_token"
	CodeSessionNotFound    Code = "session_not_found"
	CodeTooManyRequests    Code = "too_many_requests"
	CodeAccountLocked      Code = "account_locked"
	CodeInvalidResetCode   Code = "invalid_reset_code"
	CodeInvalidUnlockToken Code = "invalid_unlock_token"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// Error is the one error type the core reports to its callers. Its Message is
// written for the API's users and never contains secrets or internal details.
type Error struct {
	Code    Code
	Message string
	// Fields lists per-field problems of a validation failure.
	Fields []FieldError
	// RetryAfter, when set, is how long until the request may succeed.
	RetryAfter time.Duration
	// MFAToken and Methods answer a right password of an account with a
	// second factor (CodeMFARequired): the token of the second step and
	// the factors it accepts.
	MFAToken string
	Methods  []string
	// PasskeyOptions, with CodeMFARequired for an account with passkeys,
	// are the WebAuthn request options (JSON) that a passkey answers as
	// the second factor.
	PasskeyOptions []byte
}

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return string(e.Code) + ": " + e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return string(e.Code) + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is match any *Error with the same code, so callers can test
// against the sentinels below even when the message or fields differ.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors of the user lifecycle.
var (
	ErrValidation         = &Error{Code: CodeValidationFailed, Message: "the request is invalid"}
	ErrEmailTaken         = &Error{Code: CodeEmailTaken, Message: "an account with this email already exists"}
	ErrUserNotFound       = &Error{Code: CodeUserNotFound, Message: "no account with this email exists"}
	ErrInvalidCode        = &Error{Code: CodeInvalidCode, Message: "the activation code is not valid"}
	ErrCodeExpired        = &Error{Code: CodeCodeExpired, Message: "the activation code has expired; request a new one"}
	ErrCodeExhausted      = &Error{Code: CodeCodeExhausted, Message: "too many wrong attempts; request a new activation code, or use the link in the email"}
	ErrAlreadyActive      = &Error{Code: CodeAlreadyActive, Message: "the account is already active"}
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "the email or password is incorrect"}
	ErrAccountNotActive   = &Error{Code: CodeAccountNotActive, Message: "the account is not active; verify the email address first"}
	ErrAccountDisabled    = &Error{Code: CodeAccountDisabled, Message: "the account has been disabled; contact support"}
	ErrInvalidAdminKey    = &Error{Code: CodeInvalidAdminKey, Message: "a valid admin API key is required"}
	ErrAdminKeyExists     = &Error{Code: CodeAdminKeyExists, Message: "an admin key with this name exists, or existed: names are never reused"}
	ErrAdminKeyNotFound   = &Error{Code: CodeAdminKeyNotFound, Message: "no admin key has this name"}
	ErrInvalidToken       = &Error{Code: CodeInvalidToken, Message: "the token is missing, malformed, expired or not accepted here"}
	ErrSessionNotFound    = &Error{Code: CodeSessionNotFound, Message: "no such session"}
	ErrTooManyRequests    = &Error{Code: CodeTooManyRequests, Message: "too many requests; try again later"}
	ErrInvalidResetCode   = &Error{Code: CodeInvalidResetCode, Message: "the reset code is wrong, expired or used up; request a new one"}
	ErrAccountLocked      = &Error{Code: CodeAccountLocked, Message: "too many failed logins: the account is locked for a while; its owner has been emailed a link that unlocks it at once"}
	ErrInvalidUnlockToken = &Error{Code: CodeInvalidUnlockToken, Message: "the unlock link is wrong, expired or already used"}
	ErrUnavailable        = &Error{Code: CodeUnavailable, Message: "the service is temporarily unavailable; try again later"}
)

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when err is not a domain error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Validation collects field problems so that one response names all of them.
// The zero value is ready to use.
type Validation struct {
	fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Require records field as missing if value is blank.
func (v *Validation) Require(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.Add(field, "is required")
	}
}

// Err returns the collected problems as a validation error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: CodeValidationFailed, Message: ErrValidation.Message, Fields: v.fields}
}

// ValidationError is the validation failure of one field.
func ValidationError(field, message string) error {
	var v Validation
	v.Add(field, message)
	return v.Err()
}
