package domain

import (
	"errors"
	"testing"
	"time"
)

func TestLoginPolicySourceWait(t *testing.T) {
	p := DefaultLoginPolicy()
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		failures int
		now      time.Time
		want     time.Duration
	}{
		{"no failures", 0, last, 0},
		{"five are free", 5, last, 0},
		{"the sixth waits a second", 6, last, time.Second},
		{"the seventh two", 7, last, 2 * time.Second},
		{"the tenth sixteen", 10, last, 16 * time.Second},
		{"capped at fifteen minutes", 30, last, 15 * time.Minute},
		{"huge counts stay capped", 1 << 20, last, 15 * time.Minute},
		{"the wait runs from the last failure", 7, last.Add(1500 * time.Millisecond), 500 * time.Millisecond},
		{"and ends", 7, last.Add(3 * time.Second), 0},
		{"a day later the run is forgotten", 1 << 20, last.Add(SourceMemory + time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adm, err := p.Admit(SourceRun{Failures: tt.failures, Last: last}, AccountRun{}, tt.now)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Admit = %v, want admitted", err)
				}
				if adm.Source.Failures < 1 || !adm.Source.Last.Equal(tt.now) {
					t.Errorf("the admitted attempt was not counted: %+v", adm.Source)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeTooManyRequests || e.RetryAfter != tt.want {
				t.Errorf("Admit = %v, want too_many_requests after %v", err, tt.want)
			}
		})
	}
}

func TestLoginPolicyLocksGrowAndExpire(t *testing.T) {
	p := DefaultLoginPolicy()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var account AccountRun
	wantLocks := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for lock, want := range wantLocks {
		for i := 1; i <= p.LockAfter; i++ {
			adm, err := p.Admit(SourceRun{}, account, now)
			if err != nil {
				t.Fatalf("lock %d, attempt %d: %v", lock+1, i, err)
			}
			if adm.Locks != (i == p.LockAfter) {
				t.Fatalf("lock %d, attempt %d: Locks = %v", lock+1, i, adm.Locks)
			}
			account = adm.Account
		}
		_, err := p.Admit(SourceRun{}, account, now)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeAccountLocked || e.RetryAfter != want {
			t.Fatalf("lock %d: Admit = %v, want account_locked for %v", lock+1, err, want)
		}
		now = now.Add(want)
	}
	if _, err := p.Admit(SourceRun{}, account, now); err != nil {
		t.Fatalf("after the last lock ran out: %v", err)
	}
}

func TestLoginPolicyLockIsCapped(t *testing.T) {
	p := DefaultLoginPolicy()
	if got := p.lockFor(1 << 20); got != p.MaxLock {
		t.Errorf("a long campaign locks for %v, want the cap %v", got, p.MaxLock)
	}
	p.LockAfter = 0
	adm, err := p.Admit(SourceRun{}, AccountRun{Failures: 1 << 20}, time.Now())
	if err != nil || adm.Locks {
		t.Errorf("LockAfter 0 still locks: %+v, %v", adm, err)
	}
}

func TestAccountRunLiftKeepsTheCampaign(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := AccountRun{Failures: 3, Locks: 4, Last: now, LockedUntil: now.Add(time.Hour)}.Lift()
	if run.Failures != 0 || !run.LockedUntil.IsZero() || run.Locks != 4 {
		t.Errorf("Lift = %+v, want no lock, no failures and the campaign's 4 locks", run)
	}
	adm, err := DefaultLoginPolicy().Admit(SourceRun{}, run, now)
	if err != nil || adm.Account.Failures != 1 {
		t.Errorf("after Lift: %+v, %v", adm, err)
	}
	// A campaign is forgotten a while after its last failure.
	adm, err = DefaultLoginPolicy().Admit(SourceRun{}, run, now.Add(CampaignMemory+time.Second))
	if err != nil || adm.Account.Locks != 0 {
		t.Errorf("a campaign a week old: %+v, %v", adm, err)
	}
}

// TestLoginPolicyYearBound plays an attacker with endless addresses, who
// guesses again the moment each lock runs out, for a year: the guesses it
// gets are the figure the README states.
func TestLoginPolicyYearBound(t *testing.T) {
	p := DefaultLoginPolicy()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	var account AccountRun
	guesses, locks := 0, 0
	for now := start; now.Before(end); {
		adm, err := p.Admit(SourceRun{}, account, now)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeAccountLocked {
				t.Fatal(err)
			}
			now = now.Add(e.RetryAfter)
			continue
		}
		account = adm.Account
		guesses++
		if adm.Locks {
			locks++
		}
	}
	if guesses != 3780 || locks != 378 {
		t.Errorf("a year of guessing: %d guesses, %d locks; the README states 3,780 and 378", guesses, locks)
	}
}

func TestTooManyRequests(t *testing.T) {
	err := TooManyRequests(3 * time.Second)
	e, ok := err.(*Error)
	if !ok || e.Code != CodeTooManyRequests || e.RetryAfter != 3*time.Second || !e.Is(ErrTooManyRequests) {
		t.Errorf("TooManyRequests = %#v", err)
	}
}
