package ports

import (
	"context"

	"authapi/domain"
)

// Operator is who takes an admin action, and from where: an admin API key
// (domain.AdminActor) over HTTP, or the command line (domain.ActorCLI).
type Operator struct {
	Actor  string
	Client domain.Client
}

// AccountDetails is an account as an operator sees it.
type AccountDetails struct {
	AccountSummary
	// LiveSessions counts the sessions that can still be refreshed.
	LiveSessions int
}

// AccountChange is what an operator changes of an account; a nil field is
// left as it is.
type AccountChange struct {
	// Disabled disables (true) or enables (false) the account. Disabling
	// ends its sessions; enabling does not bring them back.
	Disabled *bool
	// EmailVerified, when true, activates the account without a code.
	// An account cannot be made unverified.
	EmailVerified *bool
	FirstName     *string
	LastName      *string
	// MFAEnabled, when false, turns the account's second factor off and
	// voids its recovery codes: the recovery of an account that lost both
	// its authenticator and its recovery codes. It cannot be turned on
	// here.
	MFAEnabled *bool
}

// The sizes of the admin listings' pages: the default, taken when a query's
// Limit is zero, and the most a page may hold. The drivers refuse a limit
// that a client gave as zero.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// UserPage is a page of accounts and the cursor of the next, "" after the
// last.
type UserPage struct {
	Users []AccountSummary
	Next  string
}

// AuditPage is a page of audit events, newest first, and the ID to read the
// next page before, 0 after the last.
type AuditPage struct {
	Events []domain.AuditEvent
	Next   int64
}

// AdminService is the driving port of operators: the admin API and the
// command line. Every change it makes is recorded in the audit log with the
// operator as its actor.
type AdminService interface {
	// AuthenticateAdmin checks an admin API key and returns its operator
	// actor. A missing, wrong or revoked key, or anything else, such as a
	// user's token, fails alike with domain.ErrInvalidAdminKey, after the
	// same work.
	AuthenticateAdmin(ctx context.Context, key string) (string, error)

	// ListUsers returns a page of the accounts q selects; q.Now is set by
	// the service, and a zero q.Limit takes DefaultPageSize. A blank
	// q.EmailPrefix selects every account. Errors: validation failures.
	ListUsers(ctx context.Context, q UserQuery) (UserPage, error)

	// User returns an account by id or email. Errors: domain.ErrUserNotFound.
	User(ctx context.Context, idOrEmail string) (AccountDetails, error)

	// UpdateUser changes an account. Errors: domain.ErrUserNotFound,
	// validation failures.
	UpdateUser(ctx context.Context, op Operator, idOrEmail string, change AccountChange) (AccountDetails, error)

	// UnlockUser lifts the account's login lock and the slow-downs of its
	// clients. Errors: domain.ErrUserNotFound.
	UnlockUser(ctx context.Context, op Operator, idOrEmail string) error

	// RevokeSessions ends every session of the account and returns how
	// many. Errors: domain.ErrUserNotFound.
	RevokeSessions(ctx context.Context, op Operator, idOrEmail string) (int, error)

	// DeleteUser deletes the account and its sessions; its email can sign
	// up again. Errors: domain.ErrUserNotFound.
	DeleteUser(ctx context.Context, op Operator, idOrEmail string) error

	// Audit returns a page of the audit log; a zero q.Limit takes
	// DefaultPageSize. Errors: validation failures.
	Audit(ctx context.Context, q AuditQuery) (AuditPage, error)

	// CreateAdminKey makes a key and returns the key itself, which is
	// shown this once. Errors: validation failures of the name,
	// domain.ErrAdminKeyExists.
	CreateAdminKey(ctx context.Context, op Operator, name string) (string, error)

	// AdminKeys lists the keys, revoked ones too, by name.
	AdminKeys(ctx context.Context) ([]domain.AdminKey, error)

	// RevokeAdminKey revokes a key at once. Errors:
	// domain.ErrAdminKeyNotFound.
	RevokeAdminKey(ctx context.Context, op Operator, name string) error
}
