package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

func from(ip string) domain.Client { return domain.Client{IP: ip, UserAgent: "test"} }

// retryAfter returns the wait a rate-limit error carries, failing otherwise.
func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeTooManyRequests {
		t.Fatalf("err = %v, want too_many_requests", err)
	}
	return e.RetryAfter
}

func TestLoginSlowsDownPerAccountAndClient(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	attacker := from("198.51.100.66")
	for i := 1; i <= 6; i++ {
		if _, err := f.svc.Login(ctx, astro.Email, "wrong-password", attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("failure %d = %v, want invalid credentials (five are free, the sixth is allowed too)", i, err)
		}
	}
	before := f.hasher.verifies
	_, err := f.svc.Login(ctx, astro.Email, astro.Password, attacker)
	if got := retryAfter(t, err); got != time.Second {
		t.Errorf("wait after six failures = %v, want 1s", got)
	}
	if f.hasher.verifies != before {
		t.Error("a throttled login still did hashing work")
	}

	// The real user, elsewhere, is not slowed down by the attacker.
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); err != nil {
		t.Fatalf("the owner's login from another client = %v", err)
	}
	// Nor is the attacker's client once the wait is over; a success resets.
	f.clock.advance(time.Second)
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, attacker); err != nil {
		t.Fatalf("login after the wait = %v", err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := f.svc.Login(ctx, astro.Email, "wrong-password", attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("after a success, failure %d = %v; the run did not reset", i, err)
		}
	}
}

func TestLoginDelaysDouble(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.Limits.LoginPerIP = ports.Limit{} // isolate the per-account delay
	ctx := context.Background()
	attacker := from("198.51.100.66")
	for i := 0; i < 6; i++ {
		_, _ = f.svc.Login(ctx, "nobody@example.com", "guess", attacker)
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		_, err := f.svc.Login(ctx, "nobody@example.com", "guess", attacker)
		if got := retryAfter(t, err); got != want {
			t.Fatalf("wait = %v, want %v", got, want)
		}
		f.clock.advance(want)
		if _, err := f.svc.Login(ctx, "nobody@example.com", "guess", attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("attempt after waiting = %v", err)
		}
	}
}

func TestLoginLocksAfterAHundredFailuresFromAnywhere(t *testing.T) {
	for _, email := range []string{astro.Email, "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			ctx := context.Background()
			// Twenty clients, five free failures each: no client is slowed.
			for i := 0; i < 100; i++ {
				client := from(fmt.Sprintf("203.0.113.%d", i/5))
				if _, err := f.svc.Login(ctx, email, "wrong-password", client); !errors.Is(err, domain.ErrInvalidCredentials) {
					t.Fatalf("failure %d = %v", i+1, err)
				}
			}
			_, err := f.svc.Login(ctx, email, astro.Password, from("192.0.2.200"))
			if !errors.Is(err, domain.ErrAccountLocked) {
				t.Fatalf("login after 100 failures = %v, want account_locked even with the right password", err)
			}
		})
	}
}

func TestRequestLimits(t *testing.T) {
	tests := []struct {
		name     string
		allowed  int
		request  func(f *fixture, i int) error
		wantWait time.Duration
	}{
		{"resend per email: once a minute, failures counted", 1, func(f *fixture, i int) error {
			return f.svc.ResendActivation(context.Background(), "nobody@example.com", from(fmt.Sprintf("192.0.2.%d", i)))
		}, time.Minute},
		{"signup per client, failures counted", 20, func(f *fixture, i int) error {
			_, err := f.svc.Signup(context.Background(), ports.SignupRequest{Email: fmt.Sprintf("invalid-%d", i)}, from("192.0.2.1"))
			return err
		}, 3 * time.Second},
		{"signup per email", 5, func(f *fixture, i int) error {
			_, err := f.svc.Signup(context.Background(), astro, from(fmt.Sprintf("192.0.2.%d", i)))
			return err
		}, 12 * time.Minute},
		{"verify per client", 30, func(f *fixture, i int) error {
			return f.svc.Verify(context.Background(), "nobody@example.com", "000000", from("192.0.2.1"))
		}, 2 * time.Second},
		{"login per client", 30, func(f *fixture, i int) error {
			_, err := f.svc.Login(context.Background(), fmt.Sprintf("user%d@example.com", i), "guess", from("192.0.2.1"))
			return err
		}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for i := 0; i < tt.allowed; i++ {
				if err := tt.request(f, i); errors.Is(err, domain.ErrTooManyRequests) {
					t.Fatalf("request %d limited: %v", i+1, err)
				}
			}
			err := tt.request(f, tt.allowed)
			if got := retryAfter(t, err); got != tt.wantWait {
				t.Errorf("wait = %v, want %v", got, tt.wantWait)
			}
		})
	}
}

func TestResendPerEmailHourlyCap(t *testing.T) {
	f := newFixture(t)
	f.signup(t)
	for i := 0; i < 5; i++ {
		if err := f.svc.ResendActivation(context.Background(), astro.Email, laptop); err != nil {
			t.Fatalf("resend %d: %v", i+1, err)
		}
		f.clock.advance(time.Minute)
	}
	if got := retryAfter(t, f.svc.ResendActivation(context.Background(), astro.Email, laptop)); got <= time.Minute {
		t.Errorf("sixth resend within the hour waits %v, want the hourly cap's longer wait", got)
	}
}
