package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

func from(ip string) domain.Client { return domain.Client{IP: ip, Source: ip, UserAgent: "test"} }

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
	f.clock.Advance(time.Second)
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
	f.svc.cfg.Limits.LoginPerSource = ports.Limit{} // isolate the per-account delay
	f.svc.cfg.Limits.Login.LockAfter = 0
	ctx := context.Background()
	attacker := from("198.51.100.66")
	for range 6 {
		_, _ = f.svc.Login(ctx, "nobody@example.com", "guess", attacker)
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		_, err := f.svc.Login(ctx, "nobody@example.com", "guess", attacker)
		if got := retryAfter(t, err); got != want {
			t.Fatalf("wait = %v, want %v", got, want)
		}
		f.clock.Advance(want)
		if _, err := f.svc.Login(ctx, "nobody@example.com", "guess", attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("attempt after waiting = %v", err)
		}
	}
}

// blockingHasher holds every verification until release is closed, so that
// a test can have many logins past the limits at once.
type blockingHasher struct {
	*fakeHasher
	waiting sync.WaitGroup
	release chan struct{}
}

func (h *blockingHasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	h.waiting.Done()
	<-h.release
	return h.fakeHasher.Verify(ctx, password, encoded)
}

// TestConcurrentWrongPasswordsMeetTheSlowDown: an attempt counts before its
// password is checked, so 25 attempts at once from one client get no more
// checks than 6 in a row would.
func TestConcurrentWrongPasswordsMeetTheSlowDown(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	free := f.svc.cfg.Limits.Login.FreeFailures + 1
	hasher := &blockingHasher{fakeHasher: f.hasher, release: make(chan struct{})}
	hasher.waiting.Add(free)
	f.svc.hasher = hasher
	const attempts = 25
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			_, errs[i] = f.svc.Login(context.Background(), astro.Email, "wrong-password", from("198.51.100.66"))
		})
	}
	hasher.waiting.Wait() // the admitted attempts are all checking at once
	close(hasher.release)
	wg.Wait()
	checked, limited := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, domain.ErrInvalidCredentials):
			checked++
		case errors.Is(err, domain.ErrTooManyRequests):
			limited++
		default:
			t.Errorf("Login = %v", err)
		}
	}
	if checked != free || limited != attempts-free {
		t.Errorf("%d checked and %d limited of %d at once, want %d checked", checked, limited, attempts, free)
	}
}

// TestCampaignLocksForAWhileAndTellsTheOwner: wrong passwords from many
// clients lock the account, whether or not it exists, alike; the lock ends
// by itself, and the owner of a real account is emailed the unlock link.
func TestCampaignLocksForAWhileAndTellsTheOwner(t *testing.T) {
	for _, email := range []string{astro.Email, "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			ctx := context.Background()
			mailBefore := len(f.queued(t))
			lockAfter := f.svc.cfg.Limits.Login.LockAfter
			for i := range lockAfter {
				client := from(fmt.Sprintf("203.0.113.%d", i))
				if _, err := f.svc.Login(ctx, email, "wrong-password", client); !errors.Is(err, domain.ErrInvalidCredentials) {
					t.Fatalf("failure %d = %v", i+1, err)
				}
			}
			_, err := f.svc.Login(ctx, email, astro.Password, from("192.0.2.200"))
			var e *domain.Error
			if !errors.As(err, &e) || e.Code != domain.CodeAccountLocked || e.RetryAfter != time.Minute {
				t.Fatalf("login after %d failures = %v, want account_locked for a minute even with the right password", lockAfter, err)
			}
			mail := f.queued(t)[mailBefore:]
			if email == astro.Email {
				if len(mail) != 1 || mail[0].Subject != unlockSubject || !strings.Contains(mail[0].Text, "/unlock?email=") {
					t.Errorf("mail after the lock = %+v, want one unlock email", mail)
				}
			} else if len(mail) != 0 {
				t.Errorf("mail queued for an address without an account: %+v", mail)
			}
			f.clock.Advance(time.Minute)
			if _, err := f.svc.Login(ctx, email, astro.Password, from("192.0.2.200")); email == astro.Email && err != nil {
				t.Errorf("login after the lock ran out = %v", err)
			}
		})
	}
}

func TestUnlock(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	for i := range f.svc.cfg.Limits.Login.LockAfter {
		_, _ = f.svc.Login(ctx, astro.Email, "wrong-password", from(fmt.Sprintf("203.0.113.%d", i)))
	}
	token := tokenInLink(t, f.lastMail(t).Text, "unlock")
	for name, tt := range map[string]struct{ email, token string }{
		"wrong token":   {astro.Email, "forged-token"},
		"another email": {"nobody@example.com", token},
		"no token":      {astro.Email, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := f.svc.Unlock(ctx, tt.email, tt.token, laptop)
			if !errors.Is(err, domain.ErrInvalidUnlockToken) && !errors.Is(err, domain.ErrValidation) {
				t.Errorf("Unlock = %v, want invalid_unlock_token", err)
			}
		})
	}
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountLocked) {
		t.Fatalf("login before unlocking = %v, want account_locked", err)
	}
	if err := f.svc.Unlock(ctx, " Astro.User@example.com", token, laptop); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); err != nil {
		t.Errorf("login after unlocking = %v", err)
	}
	if err := f.svc.Unlock(ctx, astro.Email, token, laptop); !errors.Is(err, domain.ErrInvalidUnlockToken) {
		t.Errorf("a second use of the link = %v, want invalid_unlock_token", err)
	}
}

// tokenInLink returns the token of the link to page in an email's text.
func tokenInLink(t *testing.T, text, page string) string {
	t.Helper()
	for _, link := range linkInMail.FindAllString(text, -1) {
		if strings.Contains(link, "/"+page+"?") {
			_, token, ok := strings.Cut(link, "token=")
			if ok && token != "" {
				return token
			}
		}
	}
	t.Fatalf("no /%s link with a token in %q", page, text)
	return ""
}

func TestRequestLimits(t *testing.T) {
	tests := []struct {
		name     string
		allowed  int
		request  func(f *fixture, i int) error
		wantWait time.Duration
	}{
		{"codes per email: once a minute, unknown addresses too", 1, func(f *fixture, i int) error {
			return f.svc.ResendActivation(context.Background(), "nobody@example.com", from(fmt.Sprintf("192.0.2.%d", i)))
		}, time.Minute},
		{"codes per email: resend and forgot share the budget", 1, func(f *fixture, i int) error {
			if i == 0 {
				return f.svc.ResendActivation(context.Background(), "nobody@example.com", from("192.0.2.1"))
			}
			return f.svc.ForgotPassword(context.Background(), "nobody@example.com", from("192.0.2.2"))
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
			return f.svc.Verify(context.Background(), "nobody@example.com", domain.CodeProof("000000"), from("192.0.2.1"))
		}, 2 * time.Second},
		{"login per client", 30, func(f *fixture, i int) error {
			_, err := f.svc.Login(context.Background(), fmt.Sprintf("user%d@example.com", i), "guess", from("192.0.2.1"))
			return err
		}, 2 * time.Second},
		{"unlock per client", 30, func(f *fixture, i int) error {
			return f.svc.Unlock(context.Background(), "nobody@example.com", "forged", from("192.0.2.1"))
		}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.cfg.ForgotPasswordMinDuration = 0
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

// TestOversizedEmailsNeverReachTheLimits: an email longer than any account
// can have is refused before it becomes limiter state or a query.
func TestOversizedEmailsNeverReachTheLimits(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.ForgotPasswordMinDuration = 0
	huge := strings.Repeat("a", 1<<16) + "@example.com"
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"login":  func() error { _, err := f.svc.Login(ctx, huge, "password", laptop); return err },
		"resend": func() error { return f.svc.ResendActivation(ctx, huge, laptop) },
		"forgot": func() error { return f.svc.ForgotPassword(ctx, huge, laptop) },
		"verify": func() error { return f.svc.Verify(ctx, huge, domain.CodeProof("123456"), laptop) },
		"reset": func() error {
			return f.svc.ResetPassword(ctx, huge, domain.CodeProof("123456"), "AnotherStrongPass!42", laptop)
		},
		"unlock": func() error { return f.svc.Unlock(ctx, huge, "token", laptop) },
		"signup": func() error {
			_, err := f.svc.Signup(ctx, ports.SignupRequest{Email: huge, Password: astro.Password, FirstName: "A", LastName: "B"}, laptop)
			return err
		},
	} {
		before := f.limits.Len()
		if err := call(); !errors.Is(err, domain.ErrValidation) {
			t.Errorf("%s with a 64 KiB email = %v, want a validation error", name, err)
		}
		// Only the per-source bucket, which every request spends from.
		if grown := f.limits.Len() - before; grown > 1 {
			t.Errorf("%s with a 64 KiB email made %d buckets", name, grown)
		}
	}
}

func TestCodesPerEmailHourlyCap(t *testing.T) {
	f := newFixture(t)
	f.signup(t)
	for i := 0; i < 5; i++ {
		if err := f.svc.ResendActivation(context.Background(), astro.Email, laptop); err != nil {
			t.Fatalf("resend %d: %v", i+1, err)
		}
		f.clock.Advance(time.Minute)
	}
	if got := retryAfter(t, f.svc.ResendActivation(context.Background(), astro.Email, laptop)); got <= time.Minute {
		t.Errorf("sixth resend within the hour waits %v, want the hourly cap's longer wait", got)
	}
}
