package auth

import (
	"context"
	"fmt"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// Limits are the abuse limits of the use cases. A Limit with zero Events is
// off. Per-email limits count every request naming the address, failed ones
// included, so that probing an address costs the same as using it.
type Limits struct {
	LoginPerIP     ports.Limit
	VerifyPerIP    ports.Limit
	SignupPerIP    ports.Limit
	SignupPerEmail ports.Limit
	ResendPerIP    ports.Limit
	ResendPerEmail []ports.Limit
	ForgotPerIP    ports.Limit
	ForgotPerEmail []ports.Limit
	ResetPerIP     ports.Limit
	Login          domain.LoginPolicy
}

// DefaultLimits are on by default and generous to people, not to scripts.
func DefaultLimits() Limits {
	return Limits{
		LoginPerIP:     ports.Limit{Events: 30, Per: time.Minute, Burst: 30},
		VerifyPerIP:    ports.Limit{Events: 30, Per: time.Minute, Burst: 30},
		SignupPerIP:    ports.Limit{Events: 20, Per: time.Minute, Burst: 20},
		SignupPerEmail: ports.Limit{Events: 5, Per: time.Hour, Burst: 5},
		ResendPerIP:    ports.Limit{Events: 20, Per: time.Hour, Burst: 20},
		ResendPerEmail: []ports.Limit{
			{Events: 1, Per: time.Minute, Burst: 1},
			{Events: 5, Per: time.Hour, Burst: 5},
		},
		// A reset code is as strong as an activation code, and so are the
		// limits on asking for one and on guessing it.
		ForgotPerIP: ports.Limit{Events: 20, Per: time.Hour, Burst: 20},
		ForgotPerEmail: []ports.Limit{
			{Events: 1, Per: time.Minute, Burst: 1},
			{Events: 5, Per: time.Hour, Burst: 5},
		},
		ResetPerIP: ports.Limit{Events: 30, Per: time.Minute, Burst: 30},
		Login:      domain.DefaultLoginPolicy(),
	}
}

// take spends from the bucket of key under each limit that is on, and fails
// with the longest wait among those exceeded.
func (s *Service) take(ctx context.Context, now time.Time, key string, limits ...ports.Limit) error {
	var wait time.Duration
	for i, limit := range limits {
		if limit.Events <= 0 {
			continue
		}
		w, err := s.limiter.Take(ctx, fmt.Sprintf("%s#%d", key, i), limit, now)
		if err != nil {
			return fmt.Errorf("rate limiter: %w", err)
		}
		wait = max(wait, w)
	}
	if wait > 0 {
		return domain.TooManyRequests(wait)
	}
	return nil
}

// loginKeys name the two runs of login failures: per account and client
// together, which slows guessing down, and per account alone, which caps it.
// They use the email as typed (normalized), not the account, so an address
// without an account behaves exactly like one with.
func loginKeys(email domain.Email, client domain.Client) (pair, account string) {
	return "login-failures:" + string(email) + "|" + client.IP, "login-failures:" + string(email)
}

// checkLoginAllowed fails if the account is locked or this client must wait.
func (s *Service) checkLoginAllowed(ctx context.Context, email domain.Email, client domain.Client, now time.Time) error {
	if err := s.take(ctx, now, "login-ip:"+client.IP, s.cfg.Limits.LoginPerIP); err != nil {
		return err
	}
	pairKey, accountKey := loginKeys(email, client)
	account, err := s.failures.Failures(ctx, accountKey, now)
	if err != nil {
		return fmt.Errorf("failure counter: %w", err)
	}
	if s.cfg.Limits.Login.Locked(account.Count) {
		return domain.ErrAccountLocked
	}
	pair, err := s.failures.Failures(ctx, pairKey, now)
	if err != nil {
		return fmt.Errorf("failure counter: %w", err)
	}
	if wait := s.cfg.Limits.Login.Wait(pair.Count, pair.Last, now); wait > 0 {
		return domain.TooManyRequests(wait)
	}
	return nil
}

// recordLoginFailure counts a wrong password against both runs.
func (s *Service) recordLoginFailure(ctx context.Context, email domain.Email, client domain.Client, now time.Time) {
	pairKey, accountKey := loginKeys(email, client)
	for _, key := range []string{pairKey, accountKey} {
		if _, err := s.failures.RecordFailure(ctx, key, now); err != nil {
			s.log.ErrorContext(ctx, "recording a failed login", "error", err)
		}
	}
}

// checkPassword verifies user's password and keeps the runs of login
// failures: a wrong password extends them and answers
// domain.ErrInvalidCredentials, the right one ends them.
func (s *Service) checkPassword(ctx context.Context, user domain.User, password string, client domain.Client, now time.Time) error {
	ok, err := s.hasher.Verify(ctx, password, user.PasswordHash)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		s.recordLoginFailure(ctx, user.Email, client, now)
		return domain.ErrInvalidCredentials
	}
	s.resetLoginFailures(ctx, user.Email, client)
	return nil
}

// resetAccountFailures ends the account-wide run of failures, which lifts a
// lock; runs of single clients fade on their own.
func (s *Service) resetAccountFailures(ctx context.Context, email domain.Email) {
	_, accountKey := loginKeys(email, domain.Client{})
	if err := s.failures.Reset(ctx, accountKey); err != nil {
		s.log.ErrorContext(ctx, "resetting failed logins", "error", err)
	}
}

// resetLoginFailures ends both runs after the right password.
func (s *Service) resetLoginFailures(ctx context.Context, email domain.Email, client domain.Client) {
	pairKey, accountKey := loginKeys(email, client)
	for _, key := range []string{pairKey, accountKey} {
		if err := s.failures.Reset(ctx, key); err != nil {
			s.log.ErrorContext(ctx, "resetting failed logins", "error", err)
		}
	}
}
