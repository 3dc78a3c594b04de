package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// Limits are the abuse limits of the use cases. A Limit without rates is
// off. Limits per source count every request from a client source, failed
// ones included; limits per email count every request naming a valid
// address, whether or not it has an account, so that probing an address
// costs the same as using it.
type Limits struct {
	LoginPerSource  ports.Limit
	VerifyPerSource ports.Limit
	SignupPerSource ports.Limit
	SignupPerEmail  ports.Limit
	ResendPerSource ports.Limit
	ForgotPerSource ports.Limit
	ResetPerSource  ports.Limit
	UnlockPerSource ports.Limit
	// CodesPerEmail is the one budget for sending an account a new code,
	// whichever route asks: an activation code again, or a reset code.
	CodesPerEmail ports.Limit
	Login         domain.LoginPolicy
}

// The names of the limits, which key their buckets and label their
// rejections in the metrics; each is its setting's name (AUTH_LIMIT_...).
const (
	limitLoginPerSource  = "login_per_ip"
	limitVerifyPerSource = "verify_per_ip"
	limitSignupPerSource = "signup_per_ip"
	limitSignupPerEmail  = "signup_per_email"
	limitResendPerSource = "resend_per_ip"
	limitForgotPerSource = "forgot_per_ip"
	limitResetPerSource  = "reset_per_ip"
	limitUnlockPerSource = "unlock_per_ip"
	limitCodesPerEmail   = "codes_per_email"
)

// Per returns the limit of events per period, all of them at once.
func Per(name string, events int, per time.Duration) ports.Limit {
	return ports.Limit{Name: name, Rates: []ports.Rate{{Events: events, Per: per, Burst: events}}}
}

// DefaultLimits are on by default and generous to people, not to scripts.
func DefaultLimits() Limits {
	return Limits{
		LoginPerSource:  Per(limitLoginPerSource, 30, time.Minute),
		VerifyPerSource: Per(limitVerifyPerSource, 30, time.Minute),
		SignupPerSource: Per(limitSignupPerSource, 20, time.Minute),
		SignupPerEmail:  Per(limitSignupPerEmail, 5, time.Hour),
		ResendPerSource: Per(limitResendPerSource, 20, time.Hour),
		ForgotPerSource: Per(limitForgotPerSource, 20, time.Hour),
		ResetPerSource:  Per(limitResetPerSource, 30, time.Minute),
		UnlockPerSource: Per(limitUnlockPerSource, 30, time.Minute),
		CodesPerEmail: ports.Limit{Name: limitCodesPerEmail, Rates: []ports.Rate{
			{Events: 1, Per: time.Minute, Burst: 1},
			{Events: 5, Per: time.Hour, Burst: 5},
		}},
		Login: domain.DefaultLoginPolicy(),
	}
}

// Named gives each limit of l the name that keys its buckets, so that
// limits configured without names (from settings, in tests) keep their
// buckets apart.
func (l Limits) Named() Limits {
	for _, f := range []struct {
		limit *ports.Limit
		name  string
	}{
		{&l.LoginPerSource, limitLoginPerSource},
		{&l.VerifyPerSource, limitVerifyPerSource},
		{&l.SignupPerSource, limitSignupPerSource},
		{&l.SignupPerEmail, limitSignupPerEmail},
		{&l.ResendPerSource, limitResendPerSource},
		{&l.ForgotPerSource, limitForgotPerSource},
		{&l.ResetPerSource, limitResetPerSource},
		{&l.UnlockPerSource, limitUnlockPerSource},
		{&l.CodesPerEmail, limitCodesPerEmail},
	} {
		f.limit.Name = f.name
	}
	return l
}

// take spends from subject's buckets under limit and fails with
// domain.ErrTooManyRequests, carrying the wait, when they are empty.
func (s *Service) take(ctx context.Context, now time.Time, limit ports.Limit, subject string) error {
	if limit.Off() {
		return nil
	}
	wait, err := s.limiter.Take(ctx, limit, subject, now)
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	if wait > 0 {
		s.observe.LimitRejected(limit.Name)
		return domain.TooManyRequests(wait)
	}
	return nil
}

// admitLogin asks the login throttle whether an attempt on email from
// client may check a password now.
func (s *Service) admitLogin(ctx context.Context, email domain.Email, client domain.Client, now time.Time) (ports.LoginAttempt, error) {
	if err := s.take(ctx, now, s.cfg.Limits.LoginPerSource, client.Source); err != nil {
		return ports.LoginAttempt{}, err
	}
	attempt, err := s.throttle.Admit(ctx, s.cfg.Limits.Login, email, client.Source, now)
	switch {
	case errors.Is(err, domain.ErrAccountLocked):
		s.observe.LimitRejected("login_lockout")
	case errors.Is(err, domain.ErrTooManyRequests):
		s.observe.LimitRejected("login_slowdown")
	}
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeInternal {
			return ports.LoginAttempt{}, fmt.Errorf("login throttle: %w", err)
		}
		return ports.LoginAttempt{}, err
	}
	return attempt, nil
}

// checkPassword verifies user's password for an admitted attempt: the
// right one ends the runs of failures, a wrong one (already counted) answers
// domain.ErrInvalidCredentials and, if it locked the account, emails the
// owner the link that lifts the lock. For an account with a second factor
// the right password ends nothing: the attempt stays counted until the
// second factor is right too.
func (s *Service) checkPassword(ctx context.Context, user domain.User, password string, attempt ports.LoginAttempt, client domain.Client) error {
	ok, err := s.hasher.Verify(ctx, password, user.PasswordHash)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		if attempt.Locks {
			s.sendUnlockLink(ctx, user, attempt.LockedUntil, client)
		}
		return domain.ErrInvalidCredentials
	}
	if user.MFA.Enabled() {
		// Were the right password to end the runs, whoever holds it could
		// guess codes without end, logging in again before the wrong codes
		// added up to a slow-down or a lock.
		return nil
	}
	if err := s.throttle.Succeeded(ctx, attempt); err != nil {
		// The password was right; a run left behind only slows the next
		// failure down.
		s.log.WarnContext(ctx, "could not clear failed logins", "user_id", user.ID, "error", err)
	}
	return nil
}

// sendUnlockLink emails the owner of a locked account the link that lifts
// the lock at once. The lock holds without it, so a failure is logged, not
// reported to the client, who is not the owner.
func (s *Service) sendUnlockLink(ctx context.Context, user domain.User, lockedUntil time.Time, client domain.Client) {
	token, err := domain.GenerateLinkToken(s.random)
	if err != nil {
		s.log.ErrorContext(ctx, "could not make an unlock link", "user_id", user.ID, "error", err)
		return
	}
	now := s.now()
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		u.IssueUnlockLink(s.cfg.CodeKey, token, now, unlockLinkTTL)
		mail, err := s.unlockMail(*u, token, lockedUntil, now)
		return ports.Effects{
			Mail:   []ports.OutgoingMail{mail},
			Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventLockout, now, client).For(u.ID)},
		}, err
	})
	if err != nil {
		s.log.ErrorContext(ctx, "could not email an unlock link", "user_id", user.ID, "error", err)
		return
	}
	s.mail.MailQueued()
}

// unlockLinkTTL is how long an unlock link works: as long as the longest
// lock could last.
const unlockLinkTTL = 24 * time.Hour

// Unlock lifts the login lock of the account with the token of its emailed
// unlock link.
func (s *Service) Unlock(ctx context.Context, email, token string, client domain.Client) error {
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.UnlockPerSource, client.Source); err != nil {
		return err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return err
	}
	var v domain.Validation
	v.Require("token", token)
	if err := v.Err(); err != nil {
		return err
	}
	_, err = s.users.UpdateUser(ctx, ports.UserEmail(normalized), func(u *domain.User) (ports.Effects, error) {
		if err := u.UseUnlockLink(s.cfg.CodeKey, token, now); err != nil {
			return ports.Effects{}, err
		}
		return ports.Effects{LiftLoginLock: true, Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventUnlock, now, client).For(u.ID)}}, nil
	})
	if domain.ErrorCode(err) == domain.CodeUserNotFound {
		return domain.ErrInvalidUnlockToken
	}
	return err
}
