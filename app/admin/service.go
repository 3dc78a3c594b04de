// Package admin implements what operators do (ports.AdminService), for the
// admin API and the command line, against the driven ports. Every change is
// recorded in the audit log, in the transaction that makes it, with the
// operator as its actor.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.AdminService = (*Service)(nil)

// Deps are the driven ports the operators' use cases run on.
type Deps struct {
	Users     ports.UserStore
	Sessions  ports.SessionStore
	Throttle  ports.LoginThrottle
	Audit     ports.AuditLog
	AdminKeys ports.AdminKeyStore
	Clock     ports.Clock
	Random    ports.Random
	Logger    *slog.Logger
	// Notices composes the emails an operator's change sends its owner;
	// Mail hears that one is queued.
	Notices Notices
	Mail    ports.MailNotifier
}

// Notices composes the emails that tell an account's owner of an
// operator's change.
type Notices interface {
	TwoStepOffMail(user domain.User, now time.Time) (ports.OutgoingMail, error)
}

// Service implements ports.AdminService.
type Service struct {
	deps Deps
}

// NewService returns the operators' use cases on deps.
func NewService(deps Deps) (*Service, error) {
	if deps.Users == nil || deps.Sessions == nil || deps.Throttle == nil || deps.Audit == nil ||
		deps.AdminKeys == nil || deps.Clock == nil || deps.Random == nil || deps.Logger == nil ||
		deps.Notices == nil || deps.Mail == nil {
		return nil, errors.New("admin: every dependency is required")
	}
	return &Service{deps: deps}, nil
}

func (s *Service) now() time.Time { return s.deps.Clock.Now().UTC() }

// AuthenticateAdmin matches key against every admin key, revoked ones too,
// in constant time, so that a wrong key and a revoked one take the same
// time and get the same answer.
func (s *Service) AuthenticateAdmin(ctx context.Context, key string) (string, error) {
	keys, err := s.deps.AdminKeys.AdminKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("read admin keys: %w", err)
	}
	found, ok := domain.MatchAdminKey(keys, key)
	if !ok {
		return "", domain.ErrInvalidAdminKey
	}
	return domain.AdminActor(found.Name), nil
}

// ListUsers returns a page of accounts.
func (s *Service) ListUsers(ctx context.Context, q ports.UserQuery) (ports.UserPage, error) {
	var v domain.Validation
	if q.Limit == 0 {
		q.Limit = ports.DefaultPageSize
	}
	if q.Limit < 1 || q.Limit > ports.MaxPageSize {
		v.Add("limit", fmt.Sprintf("must be from 1 to %d", ports.MaxPageSize))
	}
	switch q.State {
	case ports.AnyState, ports.StateActive, ports.StateInactive, ports.StateDisabled, ports.StateLocked:
	default:
		v.Add("state", "must be active, inactive, disabled or locked")
	}
	// A blank prefix is no filter, as an empty one is.
	prefix, err := domain.LookupEmail(string(q.EmailPrefix))
	switch {
	case domain.NormalizeEmail(string(q.EmailPrefix)) == "":
		q.EmailPrefix = ""
	case err != nil:
		v.Add("email", "must be at most 254 bytes of UTF-8")
	default:
		q.EmailPrefix = prefix
	}
	if err := v.Err(); err != nil {
		return ports.UserPage{}, err
	}
	q.Now = s.now()
	want := q.Limit
	q.Limit++ // one more tells whether a next page exists
	users, err := s.deps.Users.ListUsers(ctx, q)
	if err != nil {
		return ports.UserPage{}, fmt.Errorf("list users: %w", err)
	}
	page := ports.UserPage{Users: users}
	if len(users) > want {
		page.Users = users[:want]
		page.Next = page.Users[want-1].ID
	}
	return page, nil
}

// key names an account by id, or by email when it holds an '@'.
func key(idOrEmail string) (ports.UserKey, error) {
	if !strings.Contains(idOrEmail, "@") {
		return ports.UserID(idOrEmail), nil
	}
	email, err := domain.LookupEmail(idOrEmail)
	if err != nil {
		return ports.UserKey{}, domain.ErrUserNotFound
	}
	return ports.UserEmail(email), nil
}

func (s *Service) user(ctx context.Context, idOrEmail string) (domain.User, error) {
	k, err := key(idOrEmail)
	if err != nil {
		return domain.User{}, err
	}
	if k.ID() != "" {
		return s.deps.Users.UserByID(ctx, k.ID())
	}
	return s.deps.Users.UserByEmail(ctx, k.Email())
}

// User returns an account with its lock and its live sessions.
func (s *Service) User(ctx context.Context, idOrEmail string) (ports.AccountDetails, error) {
	u, err := s.user(ctx, idOrEmail)
	if err != nil {
		return ports.AccountDetails{}, err
	}
	return s.details(ctx, u)
}

func (s *Service) details(ctx context.Context, u domain.User) (ports.AccountDetails, error) {
	now := s.now()
	until, err := s.deps.Throttle.LockedUntil(ctx, u.Email, now)
	if err != nil {
		return ports.AccountDetails{}, fmt.Errorf("read login lock: %w", err)
	}
	sessions, err := s.deps.Sessions.SessionsOfUser(ctx, u.ID, now)
	if err != nil {
		return ports.AccountDetails{}, fmt.Errorf("read sessions: %w", err)
	}
	return ports.AccountDetails{AccountSummary: ports.AccountSummary{User: u, LockedUntil: until}, LiveSessions: len(sessions)}, nil
}

// UpdateUser applies change in one transaction, with an audit event for
// each thing it changes.
func (s *Service) UpdateUser(ctx context.Context, op ports.Operator, idOrEmail string, change ports.AccountChange) (ports.AccountDetails, error) {
	if change.EmailVerified != nil && !*change.EmailVerified {
		return ports.AccountDetails{}, domain.ValidationError("email_verified", "can only be set to true: a verified address stays verified")
	}
	if change.MFAEnabled != nil && *change.MFAEnabled {
		return ports.AccountDetails{}, domain.ValidationError("mfa_enabled", "can only be set to false: the owner turns two-step login on")
	}
	k, err := key(idOrEmail)
	if err != nil {
		return ports.AccountDetails{}, err
	}
	now := s.now()
	event := func(typ domain.EventType, userID string) domain.AuditEvent {
		return domain.NewAuditEvent(typ, now, op.Client).For(userID).By(op.Actor)
	}
	saved, err := s.deps.Users.UpdateUser(ctx, k, func(u *domain.User) (ports.Effects, error) {
		var fx ports.Effects
		if change.FirstName != nil || change.LastName != nil {
			first, last := deref(change.FirstName), deref(change.LastName)
			if (change.FirstName != nil && first == "") || (change.LastName != nil && last == "") {
				return fx, domain.ValidationError(blankName(change), "must not be empty")
			}
			before := [2]string{u.FirstName, u.LastName}
			if err := u.Rename(first, last, now); err != nil {
				return fx, err
			}
			if before != [2]string{u.FirstName, u.LastName} {
				fx.Events = append(fx.Events, event(domain.EventNamesChanged, u.ID))
			}
		}
		if change.EmailVerified != nil && !u.Active {
			u.MarkVerified(now)
			fx.Events = append(fx.Events, event(domain.EventEmailVerified, u.ID))
		}
		if change.MFAEnabled != nil && u.MFA.Enabled() {
			u.DisableMFA(now)
			mail, err := s.deps.Notices.TwoStepOffMail(*u, now)
			if err != nil {
				return fx, err
			}
			fx.Mail = append(fx.Mail, mail)
			fx.Events = append(fx.Events, event(domain.EventMFADisabled, u.ID))
		}
		if change.Disabled != nil && *change.Disabled != u.Disabled() {
			if *change.Disabled {
				u.Disable(now)
				fx.EndSessions = &ports.EndSessions{At: now}
				fx.Events = append(fx.Events, event(domain.EventAccountDisabled, u.ID))
			} else {
				u.Enable(now)
				fx.Events = append(fx.Events, event(domain.EventAccountEnabled, u.ID))
			}
		}
		return fx, nil
	})
	if err != nil {
		return ports.AccountDetails{}, err
	}
	s.deps.Mail.MailQueued()
	return s.details(ctx, saved)
}

func blankName(change ports.AccountChange) string {
	if change.FirstName != nil && *change.FirstName == "" {
		return "first_name"
	}
	return "last_name"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// UnlockUser lifts the account's login lock.
func (s *Service) UnlockUser(ctx context.Context, op ports.Operator, idOrEmail string) error {
	k, err := key(idOrEmail)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = s.deps.Users.UpdateUser(ctx, k, func(u *domain.User) (ports.Effects, error) {
		return ports.Effects{
			LiftLoginLock: true,
			Events:        []domain.AuditEvent{domain.NewAuditEvent(domain.EventUnlock, now, op.Client).For(u.ID).By(op.Actor)},
		}, nil
	})
	return err
}

// RevokeSessions ends every session of the account.
func (s *Service) RevokeSessions(ctx context.Context, op ports.Operator, idOrEmail string) (int, error) {
	u, err := s.user(ctx, idOrEmail)
	if err != nil {
		return 0, err
	}
	now := s.now()
	return s.deps.Sessions.RevokeSessions(ctx, u.ID, now, "",
		domain.NewAuditEvent(domain.EventSessionsRevoked, now, op.Client).For(u.ID).By(op.Actor))
}

// DeleteUser deletes the account.
func (s *Service) DeleteUser(ctx context.Context, op ports.Operator, idOrEmail string) error {
	u, err := s.user(ctx, idOrEmail)
	if err != nil {
		return err
	}
	now := s.now()
	deleted := domain.NewAuditEvent(domain.EventAccountDeleted, now, op.Client).For(u.ID).By(op.Actor).Naming(string(u.Email))
	return s.deps.Users.DeleteUser(ctx, u.ID, ports.Effects{Events: []domain.AuditEvent{deleted}})
}

// Audit returns a page of the audit log.
func (s *Service) Audit(ctx context.Context, q ports.AuditQuery) (ports.AuditPage, error) {
	var v domain.Validation
	if q.Limit == 0 {
		q.Limit = ports.DefaultPageSize
	}
	if q.Limit < 1 || q.Limit > ports.MaxPageSize {
		v.Add("limit", fmt.Sprintf("must be from 1 to %d", ports.MaxPageSize))
	}
	known := domain.EventTypes()
	for _, typ := range q.Types {
		if !slices.Contains(known, typ) {
			v.Add("event", fmt.Sprintf("%q is no event type", string(typ)))
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		v.Add("until", "must be after since")
	}
	if q.Before < 0 {
		v.Add("cursor", "is not a cursor of this log")
	}
	if err := v.Err(); err != nil {
		return ports.AuditPage{}, err
	}
	want := q.Limit
	q.Limit++
	events, err := s.deps.Audit.AuditEvents(ctx, q)
	if err != nil {
		return ports.AuditPage{}, fmt.Errorf("read the audit log: %w", err)
	}
	page := ports.AuditPage{Events: events}
	if len(events) > want {
		page.Events = events[:want]
		page.Next = page.Events[want-1].ID
	}
	return page, nil
}

// CreateAdminKey makes a key named name.
func (s *Service) CreateAdminKey(ctx context.Context, op ports.Operator, name string) (string, error) {
	now := s.now()
	k, secret, err := domain.NewAdminKey(name, s.deps.Random, now)
	if err != nil {
		return "", err
	}
	event := domain.NewAuditEvent(domain.EventAdminKeyCreated, now, op.Client).By(op.Actor).Because(name)
	if err := s.deps.AdminKeys.CreateAdminKey(ctx, k, event); err != nil {
		return "", err
	}
	return secret, nil
}

// AdminKeys lists the keys.
func (s *Service) AdminKeys(ctx context.Context) ([]domain.AdminKey, error) {
	return s.deps.AdminKeys.AdminKeys(ctx)
}

// RevokeAdminKey revokes the named key.
func (s *Service) RevokeAdminKey(ctx context.Context, op ports.Operator, name string) error {
	now := s.now()
	event := domain.NewAuditEvent(domain.EventAdminKeyRevoked, now, op.Client).By(op.Actor).Because(name)
	return s.deps.AdminKeys.RevokeAdminKey(ctx, name, now, event)
}
