package porttest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestLoginThrottle runs the ports.LoginThrottle contract, with the effect
// of an account change that lifts a lock, against the stores newStore
// returns, under domain.DefaultLoginPolicy.
func TestLoginThrottle(t *testing.T, newStore NewStore) {
	t.Run("a source slows down after its free failures", func(t *testing.T) { testSourceSlowDown(t, newStore) })
	t.Run("attempts count before the password is checked", func(t *testing.T) { testConcurrentAdmits(t, newStore) })
	t.Run("success ends the runs", func(t *testing.T) { testSucceeded(t, newStore) })
	t.Run("a campaign from many sources locks the account for a while", func(t *testing.T) { testCampaignLocks(t, newStore) })
	t.Run("an account change lifts the lock", func(t *testing.T) { testLiftLoginLock(t, newStore) })
	t.Run("accounts and sources are apart", func(t *testing.T) { testThrottleKeys(t, newStore) })
	t.Run("an account's lock can be read", func(t *testing.T) { testLockedUntil(t, newStore) })
}

var policy = domain.DefaultLoginPolicy()

// waitOf returns the code and wait of a throttle's refusal.
func waitOf(t *testing.T, err error) (domain.Code, time.Duration) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) {
		t.Fatalf("Admit = %v, want a refusal", err)
	}
	return e.Code, e.RetryAfter
}

func admit(t *testing.T, s Store, email domain.Email, source string, now time.Time) ports.LoginAttempt {
	t.Helper()
	a, err := s.Admit(t.Context(), policy, email, source, now)
	if err != nil {
		t.Fatalf("Admit(%s, %s) = %v, want admitted", email, source, err)
	}
	return a
}

func testSourceSlowDown(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	for range policy.FreeFailures + 1 {
		if a := admit(t, s, "a@example.com", "198.51.100.1", now); a.Locks || a.Email != "a@example.com" || a.Source != "198.51.100.1" {
			t.Fatalf("attempt = %+v", a)
		}
	}
	_, err := s.Admit(t.Context(), policy, "a@example.com", "198.51.100.1", now)
	if code, wait := waitOf(t, err); code != domain.CodeTooManyRequests || wait != policy.FirstDelay {
		t.Fatalf("after the free failures: %s after %v, want too_many_requests after %v", code, wait, policy.FirstDelay)
	}
	// A refusal is not a failure: the wait does not grow.
	_, err = s.Admit(t.Context(), policy, "a@example.com", "198.51.100.1", now.Add(policy.FirstDelay/2))
	if _, wait := waitOf(t, err); wait != policy.FirstDelay/2 {
		t.Errorf("half way through the wait: %v left, want %v", wait, policy.FirstDelay/2)
	}
	admit(t, s, "a@example.com", "198.51.100.1", now.Add(policy.FirstDelay))
	_, err = s.Admit(t.Context(), policy, "a@example.com", "198.51.100.1", now.Add(policy.FirstDelay))
	if _, wait := waitOf(t, err); wait != 2*policy.FirstDelay {
		t.Errorf("the next wait = %v, want it doubled to %v", wait, 2*policy.FirstDelay)
	}
}

func testConcurrentAdmits(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const attempts = 25
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() { _, errs[i] = s.Admit(t.Context(), policy, "a@example.com", "198.51.100.1", baseTime()) })
	}
	wg.Wait()
	admitted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case domain.ErrorCode(err) != domain.CodeTooManyRequests:
			t.Errorf("Admit = %v, want admitted or too_many_requests", err)
		}
	}
	if want := policy.FreeFailures + 1; admitted != want {
		t.Errorf("%d of %d simultaneous attempts admitted, want %d", admitted, attempts, want)
	}
}

func testSucceeded(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	var last ports.LoginAttempt
	for range policy.FreeFailures + 1 {
		last = admit(t, s, "a@example.com", "198.51.100.1", now)
	}
	for i := range policy.LockAfter - policy.FreeFailures - 2 {
		admit(t, s, "a@example.com", fmt.Sprint("203.0.113.", i), now)
	}
	if err := s.Succeeded(t.Context(), last); err != nil {
		t.Fatalf("Succeeded: %v", err)
	}
	// Both runs start over: the source has its free failures again, and the
	// account is as far from a lock as at first.
	for i := range policy.LockAfter - 1 {
		if a := admit(t, s, "a@example.com", fmt.Sprint("198.51.100.", i%policy.FreeFailures), now); a.Locks {
			t.Fatalf("attempt %d after a success locked the account", i+1)
		}
	}
}

func testCampaignLocks(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	for lock, length := range []time.Duration{policy.FirstLock, 2 * policy.FirstLock} {
		for i := 1; i <= policy.LockAfter; i++ {
			a := admit(t, s, "a@example.com", fmt.Sprintf("203.0.%d.%d", lock, i), now)
			if a.Locks != (i == policy.LockAfter) {
				t.Fatalf("lock %d, attempt %d: Locks = %v", lock+1, i, a.Locks)
			}
			if a.Locks && !a.LockedUntil.Equal(now.Add(length)) {
				t.Errorf("lock %d until %v, want %v", lock+1, a.LockedUntil, now.Add(length))
			}
		}
		_, err := s.Admit(t.Context(), policy, "a@example.com", "198.51.100.99", now.Add(time.Second))
		if code, wait := waitOf(t, err); code != domain.CodeAccountLocked || wait != length-time.Second {
			t.Fatalf("lock %d: %s after %v, want account_locked after %v", lock+1, code, wait, length-time.Second)
		}
		now = now.Add(length)
	}
	admit(t, s, "a@example.com", "198.51.100.99", now)
}

func testLiftLoginLock(t *testing.T, newStore NewStore) {
	s := newStore(t)
	u := newTestUser(t, 1, "a@example.com")
	if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	now := baseTime()
	lock := func() {
		for i := range policy.LockAfter {
			admit(t, s, u.Email, fmt.Sprint("203.0.113.", i%policy.FreeFailures), now)
		}
		if _, err := s.Admit(t.Context(), policy, u.Email, "198.51.100.1", now); domain.ErrorCode(err) != domain.CodeAccountLocked {
			t.Fatalf("Admit after %d failures = %v, want account_locked", policy.LockAfter, err)
		}
	}
	lock()
	refused := errors.New("refused")
	_, err := s.UpdateUser(t.Context(), ports.UserID(u.ID), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{LiftLoginLock: true}, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateUser = %v, want the update's error", err)
	}
	if _, err := s.Admit(t.Context(), policy, u.Email, "198.51.100.1", now); domain.ErrorCode(err) != domain.CodeAccountLocked {
		t.Fatalf("a refused update lifted the lock: Admit = %v", err)
	}
	if _, err := s.UpdateUser(t.Context(), ports.UserID(u.ID), NoEffects(func(*domain.User) error { return nil })); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if _, err := s.Admit(t.Context(), policy, u.Email, "198.51.100.1", now); domain.ErrorCode(err) != domain.CodeAccountLocked {
		t.Fatalf("an update without the effect lifted the lock: Admit = %v", err)
	}
	_, err = s.UpdateUser(t.Context(), ports.UserID(u.ID), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{LiftLoginLock: true}, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	// Lifted: the sources that were slowed down are free again, and the
	// campaign is remembered, so the next lock lasts longer.
	for i := range policy.LockAfter - 1 {
		admit(t, s, u.Email, fmt.Sprint("203.0.113.", i%policy.FreeFailures), now)
	}
	if a := admit(t, s, u.Email, "198.51.100.2", now); !a.Locks || !a.LockedUntil.Equal(now.Add(2*policy.FirstLock)) {
		t.Errorf("the lock after a lift: %+v, want one until %v", a, now.Add(2*policy.FirstLock))
	}
}

func testThrottleKeys(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	for i := range policy.LockAfter {
		admit(t, s, "a@example.com", fmt.Sprint("203.0.113.", i), now)
	}
	if _, err := s.Admit(t.Context(), policy, "a@example.com", "198.51.100.1", now); domain.ErrorCode(err) != domain.CodeAccountLocked {
		t.Fatalf("Admit = %v, want account_locked", err)
	}
	admit(t, s, "b@example.com", "203.0.113.1", now)
	for range policy.FreeFailures + 1 {
		admit(t, s, "c@example.com", "198.51.100.7", now)
	}
	admit(t, s, "c@example.com", "198.51.100.8", now)
	admit(t, s, "d@example.com", "198.51.100.7", now)
}
