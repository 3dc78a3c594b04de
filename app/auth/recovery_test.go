package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/domain"
)

var resetCodeInMail = regexp.MustCompile(`reset code is (\d{6})`)

// lastResetCode returns the code of the last queued reset email.
func (f *fixture) lastResetCode(t *testing.T) string {
	t.Helper()
	m := resetCodeInMail.FindStringSubmatch(f.lastMail(t).Text)
	if m == nil {
		t.Fatalf("no reset code in the last email %q", f.lastMail(t).Subject)
	}
	return m[1]
}

func TestForgotPasswordAnswersAlike(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, f *fixture)
		email       string
		wantSubject string // of the mail queued, "" for none
	}{
		{"active account gets a reset code", func(t *testing.T, f *fixture) { f.activeUser(t) }, astro.Email, resetSubject},
		{"inactive account gets its activation code again", func(t *testing.T, f *fixture) { f.signup(t) }, astro.Email, activationSubject},
		{"unknown address gets nothing", func(t *testing.T, f *fixture) { f.activeUser(t) }, "nobody@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.cfg.ForgotPasswordMinDuration = 300 * time.Millisecond
			var slept time.Duration
			f.svc.sleep = func(_ context.Context, d time.Duration) { slept += d; f.clock.Advance(d) }
			tt.setup(t, f)
			before := f.queued(t)
			started := f.clock.Now()

			if err := f.svc.ForgotPassword(context.Background(), tt.email, laptop); err != nil {
				t.Fatalf("ForgotPassword = %v, want nil whoever asks", err)
			}
			if took := f.clock.Now().Sub(started); took != 300*time.Millisecond || slept == 0 {
				t.Errorf("took %v (slept %v), want exactly the 300ms floor", took, slept)
			}
			after := f.queued(t)
			if tt.wantSubject == "" {
				if len(after) != len(before) {
					t.Errorf("mail queued for an unknown address: %+v", after[len(after)-1].Subject)
				}
				return
			}
			if got := f.lastMail(t); got.Subject != tt.wantSubject || got.QueuedAt != started {
				t.Errorf("queued %q at %v, want %q at %v", got.Subject, got.QueuedAt, tt.wantSubject, started)
			}
		})
	}
}

func TestResetPassword(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	code := f.lastResetCode(t)
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AnotherStrongPass!42", laptop); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, pair.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("old refresh token after a reset = %v, want ErrInvalidToken", err)
	}
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("old password after a reset = %v", err)
	}
	if _, err := f.svc.Login(ctx, astro.Email, "AnotherStrongPass!42", laptop); err != nil {
		t.Errorf("new password after a reset = %v", err)
	}
	if got := f.lastMail(t).Subject; got != changedSubject {
		t.Errorf("last mail %q, want the notice %q", got, changedSubject)
	}
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "YetAnotherPass!43", laptop); !errors.Is(err, domain.ErrInvalidResetCode) {
		t.Errorf("the code worked twice: %v", err)
	}
}

func TestResetPasswordFailuresLookAlike(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture, code string) (email, try string)
	}{
		{"wrong code", func(t *testing.T, f *fixture, code string) (string, string) { return astro.Email, wrong(code) }},
		{"expired code", func(t *testing.T, f *fixture, code string) (string, string) {
			f.clock.Advance(15 * time.Minute)
			return astro.Email, code
		}},
		{"exhausted code", func(t *testing.T, f *fixture, code string) (string, string) {
			for i := 0; i < domain.MaxActivationAttempts; i++ {
				_ = f.svc.ResetPassword(context.Background(), astro.Email, domain.CodeProof(wrong(code)), "AnotherStrongPass!42", laptop)
			}
			return astro.Email, code
		}},
		{"unknown email", func(t *testing.T, f *fixture, code string) (string, string) { return "nobody@example.com", code }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.cfg.Limits = Limits{Login: domain.DefaultLoginPolicy()}
			f.activeUser(t)
			if err := f.svc.ForgotPassword(context.Background(), astro.Email, laptop); err != nil {
				t.Fatal(err)
			}
			email, try := tt.setup(t, f, f.lastResetCode(t))
			err := f.svc.ResetPassword(context.Background(), email, domain.CodeProof(try), "AnotherStrongPass!42", laptop)
			if err != domain.ErrInvalidResetCode {
				t.Fatalf("ResetPassword = %v, want exactly ErrInvalidResetCode", err)
			}
			if _, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop); err != nil {
				t.Errorf("the old password stopped working: %v", err)
			}
		})
	}
}

func TestResetPasswordJudgesThePasswordBeforeTheCode(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	code := f.lastResetCode(t)
	for _, try := range []string{code, wrong(code)} {
		err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(try), "short", laptop)
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.CodeValidationFailed || len(e.Fields) != 1 || e.Fields[0].Field != "new_password" {
			t.Fatalf("weak password with code %s = %v, want a new_password validation failure either way", try, err)
		}
	}
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AnotherStrongPass!42", laptop); err != nil {
		t.Errorf("the code no longer works after weak-password attempts: %v", err)
	}
}

func TestResetPasswordLiftsALock(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.Limits.Login.LockAfter = 3
	f.svc.cfg.Limits.Login.FreeFailures = 10
	f.activeUser(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, _ = f.svc.Login(ctx, astro.Email, "wrong-password", laptop)
	}
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountLocked) {
		t.Fatalf("not locked: %v", err)
	}
	_ = f.svc.ForgotPassword(ctx, astro.Email, laptop)
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(f.lastResetCode(t)), "AnotherStrongPass!42", laptop); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, astro.Email, "AnotherStrongPass!42", laptop); err != nil {
		t.Errorf("still locked after a reset: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name        string
		endCurrent  bool
		wantCurrent bool // whether the caller's session survives
	}{
		{"keeps the caller's session", false, true},
		{"ends the caller's session when asked", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			ctx := context.Background()
			mine, other := f.login(t), f.login(t)
			claims, _ := f.tokens.Verify(mine.Access.Token, domain.AccessToken, start)

			err := f.svc.ChangePassword(ctx, claims, "wrong-password", "AnotherStrongPass!42", tt.endCurrent, "", laptop)
			if !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Fatalf("wrong current password = %v", err)
			}
			if err := f.svc.ChangePassword(ctx, claims, astro.Password, "AnotherStrongPass!42", tt.endCurrent, "", laptop); err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			if _, err := f.svc.Refresh(ctx, other.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("another session survived: %v", err)
			}
			_, err = f.svc.Refresh(ctx, mine.Refresh.Token, laptop)
			if survived := err == nil; survived != tt.wantCurrent {
				t.Errorf("caller's session survived = %v, want %v (%v)", survived, tt.wantCurrent, err)
			}
			if got := f.lastMail(t).Subject; got != changedSubject {
				t.Errorf("last mail %q, want %q", got, changedSubject)
			}
		})
	}
}

func TestWrongCurrentPasswordCountsAsAFailedLogin(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	claims, _ := f.tokens.Verify(f.login(t).Access.Token, domain.AccessToken, start)
	for i := 0; i < 6; i++ {
		_ = f.svc.ChangePassword(ctx, claims, "wrong-password", "AnotherStrongPass!42", false, "", laptop)
	}
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrTooManyRequests) {
		t.Errorf("login after six wrong current passwords = %v, want the slow-down", err)
	}
}

func TestDeleteAccount(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	id := f.userID(t)
	if err := f.svc.DeleteAccount(ctx, domain.Claims{UserID: id}, "wrong-password", "", laptop); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("wrong password = %v", err)
	}
	if err := f.svc.DeleteAccount(ctx, domain.Claims{UserID: id}, astro.Password, "", laptop); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if _, err := f.svc.CurrentUser(ctx, id); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("deleted account still there: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, pair.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("refresh after deletion = %v", err)
	}
	f.clock.Advance(time.Hour) // past the signup limit per email
	if _, err := f.svc.Signup(ctx, astro, laptop); err != nil {
		t.Errorf("the email cannot sign up again: %v", err)
	}
}

func TestRecoveryEmailsCarryNoPasswords(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.ForgotPasswordMinDuration = 0
	f.activeUser(t)
	ctx := context.Background()
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(f.lastResetCode(t)), "AnotherStrongPass!42", laptop); err != nil {
		t.Fatal(err)
	}
	claims, err := f.tokens.Verify(f.loginWith(t, "AnotherStrongPass!42").Access.Token, domain.AccessToken, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(ctx, claims, "AnotherStrongPass!42", "YetAnotherPass!43", false, "", laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteAccount(ctx, domain.Claims{UserID: claims.UserID}, "YetAnotherPass!43", "", laptop); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range f.queued(t) {
		subjects = append(subjects, m.Subject)
		for _, secret := range []string{astro.Password, "AnotherStrongPass!42", "YetAnotherPass!43"} {
			if strings.Contains(m.Text+m.HTML+m.Subject, secret) {
				t.Errorf("email %q contains a password", m.Subject)
			}
		}
	}
	want := []string{activationSubject, resetSubject, changedSubject, changedSubject, deletedSubject}
	if strings.Join(subjects, "|") != strings.Join(want, "|") {
		t.Errorf("queued %q, want %q: the check covers every recovery email", subjects, want)
	}
}

// TestResetPasswordChecksTheCodeBeforeTheOwnersNames: a new password built
// from the owner's names is refused only to someone who holds the code, so
// that a stranger who guesses the names learns nothing from the answer.
func TestResetPasswordChecksTheCodeBeforeTheOwnersNames(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.ForgotPasswordMinDuration = 0
	f.activeUser(t)
	ctx := context.Background()
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	code := f.lastResetCode(t)
	f.passwords.rejectBuiltFrom = true
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(wrong(code)), "AstroUserPass1", laptop); err != domain.ErrInvalidResetCode {
		t.Errorf("a wrong code with a password from the names = %v, want exactly ErrInvalidResetCode", err)
	}
	err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AstroUserPass1", laptop)
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeValidationFailed || len(e.Fields) != 1 || e.Fields[0].Field != "new_password" {
		t.Fatalf("the right code with a password from the names = %v, want a new_password validation failure", err)
	}
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AnotherStrongPass!42", laptop); err != nil {
		t.Errorf("the code was spent by the refused password: %v", err)
	}
}

// A weak new password is refused the same way for every address, so that
// the answer does not tell which addresses have accounts.
func TestResetPasswordWeakPasswordAnswersAlike(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	var answers []string
	for _, email := range []string{astro.Email, "nobody@example.com"} {
		err := f.svc.ResetPassword(context.Background(), email, domain.CodeProof(" 123456 "), "short", laptop)
		answers = append(answers, err.Error())
	}
	if answers[0] != answers[1] || !strings.Contains(answers[0], "new_password") {
		t.Errorf("answers differ or miss the field: %q", answers)
	}
}
