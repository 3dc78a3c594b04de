package domain

import "time"

// LoginPolicy slows down password guessing in two ways. Failures are counted
// per account and client source together, which slows an attacker down
// without slowing the owner, who logs in from elsewhere. Failures on an
// account from any source are counted too, and every LockAfter of them in a
// row lock the account for a while: an attacker with endless addresses gets
// LockAfter guesses per lock, and the locks double with the campaign, up to
// MaxLock. A lock ends by itself, at once through the unlock link emailed
// to the owner, with a password reset, or with a successful login.
type LoginPolicy struct {
	// FreeFailures is how many consecutive failures from one source cost
	// nothing.
	FreeFailures int
	// FirstDelay is the wait after the first failure beyond the free ones;
	// each further failure doubles it, up to MaxDelay.
	FirstDelay, MaxDelay time.Duration
	// LockAfter is how many consecutive failures on an account, from any
	// source, lock it (NIST SP 800-63B, section 5.2.2: at most 100). Zero
	// disables locking.
	LockAfter int
	// FirstLock is how long the first lock of a campaign lasts; each
	// further lock doubles it, up to MaxLock.
	FirstLock, MaxLock time.Duration
}

// How long runs of failures are remembered after their last failure. A
// source that pauses longer starts over, as a user would. A campaign is
// remembered longer than its longest lock, so that an attacker who waits a
// lock out does not go back to short locks.
const (
	SourceMemory   = 24 * time.Hour
	CampaignMemory = 7 * 24 * time.Hour
)

// DefaultLoginPolicy is free for 5 failures from one source, then waits 1 s
// doubling up to 15 minutes; every 10 failures on an account lock it, for a
// minute at first, doubling up to a day.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{
		FreeFailures: 5, FirstDelay: time.Second, MaxDelay: 15 * time.Minute,
		LockAfter: 10, FirstLock: time.Minute, MaxLock: 24 * time.Hour,
	}
}

// SourceRun is the run of consecutive failures of one account from one
// source.
type SourceRun struct {
	Failures int
	Last     time.Time
}

// AccountRun is the run of consecutive failures on an account from every
// source: the failures since its last lock, how many locks the campaign has
// caused, and the lock in force.
type AccountRun struct {
	Failures    int
	Locks       int
	Last        time.Time
	LockedUntil time.Time // zero when not locked
}

// Admission is the outcome of admitting a login attempt: the runs to store,
// which already count the attempt as a failure, and whether that failure
// starts a lock.
type Admission struct {
	Source  SourceRun
	Account AccountRun
	// Locks reports that the attempt, if it fails, locks the account until
	// Account.LockedUntil: the owner should be told.
	Locks bool
}

// Admit decides whether a login attempt may check a password at now, given
// the runs so far. An admitted attempt is counted as a failure before its
// password is checked, so that attempts made at once cannot all slip
// through the limits before the first failure is recorded; a success then
// clears both runs. It returns ErrAccountLocked or a too-many-requests error,
// each with its RetryAfter, when the attempt must wait.
func (p LoginPolicy) Admit(source SourceRun, account AccountRun, now time.Time) (Admission, error) {
	if now.Sub(source.Last) > SourceMemory {
		source = SourceRun{}
	}
	if account.LockedUntil.After(now) {
		return Admission{}, AccountLocked(account.LockedUntil.Sub(now))
	}
	if now.Sub(account.Last) > CampaignMemory {
		account = AccountRun{}
	}
	if wait := p.wait(source, now); wait > 0 {
		return Admission{}, TooManyRequests(wait)
	}
	source.Failures++
	source.Last = now
	account.Failures++
	account.Last = now
	account.LockedUntil = time.Time{}
	locks := p.LockAfter > 0 && account.Failures >= p.LockAfter
	if locks {
		account.Locks++
		account.Failures = 0
		account.LockedUntil = now.Add(p.lockFor(account.Locks))
	}
	return Admission{Source: source, Account: account, Locks: locks}, nil
}

// wait returns how long after its run of failures a source must wait, from
// now; zero if it may go ahead.
func (p LoginPolicy) wait(run SourceRun, now time.Time) time.Duration {
	over := run.Failures - p.FreeFailures
	if over <= 0 || p.FirstDelay <= 0 {
		return 0
	}
	return max(0, run.Last.Add(doubled(p.FirstDelay, over-1, p.MaxDelay)).Sub(now))
}

// lockFor is how long the nth lock of a campaign lasts.
func (p LoginPolicy) lockFor(n int) time.Duration {
	return doubled(p.FirstLock, n-1, p.MaxLock)
}

// doubled is first doubled times times, capped at limit.
func doubled(first time.Duration, times int, limit time.Duration) time.Duration {
	if times < 32 && first<<times < limit {
		return first << times
	}
	return limit
}

// Lift ends the lock and the count toward the next one, as the owner's
// unlock link or a password reset does. The campaign's count of locks
// stays, so that an attacker who carries on meets the longer locks.
func (a AccountRun) Lift() AccountRun {
	a.Failures = 0
	a.LockedUntil = time.Time{}
	return a
}

// TooManyRequests is the error for an exceeded rate limit; retryAfter says
// when the request may succeed.
func TooManyRequests(retryAfter time.Duration) error {
	return &Error{Code: CodeTooManyRequests, Message: ErrTooManyRequests.Message, RetryAfter: retryAfter}
}

// AccountLocked is ErrAccountLocked for a lock that ends in retryAfter.
func AccountLocked(retryAfter time.Duration) error {
	return &Error{Code: CodeAccountLocked, Message: ErrAccountLocked.Message, RetryAfter: retryAfter}
}
