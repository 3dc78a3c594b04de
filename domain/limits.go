package domain

import "time"

// LoginPolicy slows down password guessing. Failures are counted per account
// and client together, so an attacker elsewhere cannot slow a real user down;
// a looser count per account alone caps guessing from many clients.
type LoginPolicy struct {
	// FreeFailures is how many consecutive failures cost nothing.
	FreeFailures int
	// FirstDelay is the wait after the first failure beyond the free ones;
	// each further failure doubles it, up to MaxDelay.
	FirstDelay, MaxDelay time.Duration
	// LockoutFailures is how many consecutive failures on an account, from
	// any client, lock it until the password is reset or an operator acts
	// (NIST SP 800-63B, section 5.2.2: at most 100). Zero disables it.
	LockoutFailures int
}

// DefaultLoginPolicy is free for 5 failures, then waits 1 s doubling up to
// 15 minutes, and locks after 100 consecutive failures.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{FreeFailures: 5, FirstDelay: time.Second, MaxDelay: 15 * time.Minute, LockoutFailures: 100}
}

// Wait returns how long after a run of count failures, the last at last, the
// next attempt must wait, counted from now; zero if it may go ahead.
func (p LoginPolicy) Wait(count int, last, now time.Time) time.Duration {
	over := count - p.FreeFailures
	if over <= 0 || p.FirstDelay <= 0 {
		return 0
	}
	delay := p.MaxDelay
	if over-1 < 32 && p.FirstDelay<<(over-1) < p.MaxDelay {
		delay = p.FirstDelay << (over - 1)
	}
	return max(0, last.Add(delay).Sub(now))
}

// Locked reports whether count consecutive failures lock the account.
func (p LoginPolicy) Locked(count int) bool {
	return p.LockoutFailures > 0 && count >= p.LockoutFailures
}

// TooManyRequests is the error for an exceeded rate limit; retryAfter says
// when the request may succeed.
func TooManyRequests(retryAfter time.Duration) error {
	return &Error{Code: CodeTooManyRequests, Message: ErrTooManyRequests.Message, RetryAfter: retryAfter}
}
