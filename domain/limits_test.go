package domain

import (
	"testing"
	"time"
)

func TestLoginPolicyWait(t *testing.T) {
	p := DefaultLoginPolicy()
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		count int
		now   time.Time
		want  time.Duration
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Wait(tt.count, last, tt.now); got != tt.want {
				t.Errorf("Wait(%d) = %v, want %v", tt.count, got, tt.want)
			}
		})
	}
}

func TestLoginPolicyLocked(t *testing.T) {
	p := DefaultLoginPolicy()
	if p.Locked(99) || !p.Locked(100) {
		t.Error("the lock does not engage at exactly 100 failures")
	}
	p.LockoutFailures = 0
	if p.Locked(1 << 20) {
		t.Error("a zero lockout still locks")
	}
}

func TestTooManyRequests(t *testing.T) {
	err := TooManyRequests(3 * time.Second)
	e, ok := err.(*Error)
	if !ok || e.Code != CodeTooManyRequests || e.RetryAfter != 3*time.Second || !e.Is(ErrTooManyRequests) {
		t.Errorf("TooManyRequests = %#v", err)
	}
}
