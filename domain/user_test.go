package domain

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewRegistration(t *testing.T) {
	valid := func() [4]string {
		return [4]string{"astro.user@example.com", "StrongPassword123!", "Astro", "User"}
	}
	tests := []struct {
		name       string
		edit       func(f *[4]string)
		wantFields []string
	}{
		{"valid", func(f *[4]string) {}, nil},
		{"everything missing", func(f *[4]string) { *f = [4]string{} },
			[]string{"email", "password", "first_name", "last_name"}},
		{"bad email", func(f *[4]string) { f[0] = "nope" }, []string{"email"}},
		{"password too short", func(f *[4]string) { f[1] = "1234567" }, []string{"password"}},
		{"password too long", func(f *[4]string) { f[1] = strings.Repeat("x", 129) }, []string{"password"}},
		{"password equals email", func(f *[4]string) { f[1] = "Astro.User@Example.com" }, []string{"password"}},
		{"password invalid utf-8", func(f *[4]string) { f[1] = "abcdefg\xff" }, []string{"password"}},
		{"blank first name", func(f *[4]string) { f[2] = "   " }, []string{"first_name"}},
		{"long last name", func(f *[4]string) { f[3] = strings.Repeat("é", 101) }, []string{"last_name"}},
		{"control char in name", func(f *[4]string) { f[2] = "As\x00tro" }, []string{"first_name"}},
		{"right-to-left override in name", func(f *[4]string) { f[3] = "User\u202e gnp.exe" }, []string{"last_name"}},
		{"first strong isolate in name", func(f *[4]string) { f[2] = "\u2068Astro" }, []string{"first_name"}},
		{"right-to-left name with a direction mark", func(f *[4]string) { f[2] = "\u0633\u0627\u0631\u0629\u200f" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.edit(&f)
			reg, err := NewRegistration(f[0], f[1], f[2], f[3])
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeValidationFailed {
				t.Fatalf("err = %v, want validation failure", err)
			}
			var got []string
			for _, fe := range e.Fields {
				got = append(got, fe.Field)
			}
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("invalid fields = %v, want %v", got, tt.wantFields)
			}
			if reg != (Registration{}) {
				t.Errorf("registration returned with error: %+v", reg)
			}
		})
	}
}

func TestNewRegistrationNormalizes(t *testing.T) {
	reg, err := NewRegistration(" Astro.User@Example.com ", "StrongPassword123!", "  Astro ", "User  ")
	if err != nil {
		t.Fatal(err)
	}
	want := Registration{Email: "astro.user@example.com", Password: "StrongPassword123!", FirstName: "Astro", LastName: "User"}
	if reg != want {
		t.Errorf("got %+v, want %+v", reg, want)
	}
}

func TestPasswordLengthCountsCharacters(t *testing.T) {
	// Eight characters but sixteen bytes: the rule is about characters.
	if _, err := NewRegistration("a@example.com", "éééééééé", "A", "B"); err != nil {
		t.Errorf("8-character password rejected: %v", err)
	}
	if _, err := NewRegistration("a@example.com", strings.Repeat("é", 128), "A", "B"); err != nil {
		t.Errorf("128-character password rejected: %v", err)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestUser(t *testing.T, code SecretCode) User {
	t.Helper()
	reg, err := NewRegistration("astro@example.com", "StrongPassword123!", "Astro", "User")
	if err != nil {
		t.Fatal(err)
	}
	return NewUser("user-1", reg, "hash", code, t0, time.Hour)
}

func TestNewUserIsInactiveWithPendingCode(t *testing.T) {
	u := newTestUser(t, "123456")
	if u.Active {
		t.Error("new user is active")
	}
	if !u.Activation.Pending() || !u.Activation.ExpiresAt.Equal(t0.Add(time.Hour)) || u.Activation.Attempts != 0 {
		t.Errorf("activation = %+v, want pending code expiring at %v", u.Activation, t0.Add(time.Hour))
	}
	if string(u.Activation.CodeHash) == "123456" || len(u.Activation.CodeHash) != 32 {
		t.Errorf("code stored as %x, want a SHA-256 hash", u.Activation.CodeHash)
	}
	if !errors.Is(u.CheckCanLogin(), ErrAccountNotActive) {
		t.Error("inactive user may log in")
	}
}

func TestActivate(t *testing.T) {
	tests := []struct {
		name         string
		prepare      func(u *User)
		code         string
		at           time.Time
		want         error
		wantAttempts int
	}{
		{"right code", nil, "123456", t0.Add(time.Minute), nil, 0},
		{"wrong code", nil, "654321", t0.Add(time.Minute), ErrInvalidCode, 1},
		{"malformed code", nil, "12ab", t0.Add(time.Minute), ErrInvalidCode, 1},
		{"just before expiry", nil, "123456", t0.Add(time.Hour - time.Nanosecond), nil, 0},
		{"at expiry", nil, "123456", t0.Add(time.Hour), ErrCodeExpired, 0},
		{"fifth wrong attempt still counted", func(u *User) { u.Activation.Attempts = 4 }, "000000", t0, ErrInvalidCode, 5},
		{"exhausted even with right code", func(u *User) { u.Activation.Attempts = 5 }, "123456", t0, ErrCodeExhausted, 5},
		{"already active", func(u *User) { u.Active = true }, "123456", t0, ErrAlreadyActive, 0},
		{"no pending code", func(u *User) { u.Activation = OneTimeCode{} }, "123456", t0, ErrInvalidCode, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newTestUser(t, "123456")
			if tt.prepare != nil {
				tt.prepare(&u)
			}
			err := u.Activate(tt.code, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Activate = %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				if !u.Active || u.Activation.Pending() || !u.ActivatedAt.Equal(tt.at) {
					t.Errorf("after activation: active=%v pending=%v activated_at=%v", u.Active, u.Activation.Pending(), u.ActivatedAt)
				}
				if err := u.CheckCanLogin(); err != nil {
					t.Errorf("active user may not log in: %v", err)
				}
				return
			}
			if u.Activation.Attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", u.Activation.Attempts, tt.wantAttempts)
			}
		})
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	u := newTestUser(t, "123456")
	if err := u.Activate("123456", t0); err != nil {
		t.Fatal(err)
	}
	if err := u.Activate("123456", t0); !errors.Is(err, ErrAlreadyActive) {
		t.Errorf("second use = %v, want ErrAlreadyActive", err)
	}
}

func TestIssueActivationCodeReplacesOldCode(t *testing.T) {
	u := newTestUser(t, "111111")
	u.Activation.Attempts = MaxActivationAttempts
	later := t0.Add(2 * time.Hour)
	if err := u.IssueActivationCode("222222", later, time.Hour); err != nil {
		t.Fatal(err)
	}
	if u.Activation.Attempts != 0 || !u.Activation.ExpiresAt.Equal(later.Add(time.Hour)) {
		t.Errorf("activation = %+v, want fresh state", u.Activation)
	}
	if err := u.Activate("111111", later); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("old code = %v, want ErrInvalidCode", err)
	}
	if err := u.Activate("222222", later); err != nil {
		t.Errorf("new code = %v, want success", err)
	}
	if err := u.IssueActivationCode("333333", later, time.Hour); !errors.Is(err, ErrAlreadyActive) {
		t.Errorf("issue for active user = %v, want ErrAlreadyActive", err)
	}
}

func TestCodeHashIsBoundToUser(t *testing.T) {
	if string(hashCode(PurposeActivation, "a", "123456")) == string(hashCode(PurposeActivation, "b", "123456")) {
		t.Error("same code hashes equally for different users")
	}
	if string(hashCode(PurposeActivation, "a", "123456")) == string(hashCode(PurposePasswordReset, "a", "123456")) {
		t.Error("same code hashes equally for different purposes")
	}
}

func activeTestUser(t *testing.T) User {
	t.Helper()
	u := newTestUser(t, "123456")
	if err := u.Activate("123456", t0); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordReset(t *testing.T) {
	tests := []struct {
		name         string
		prepare      func(u *User)
		code         string
		at           time.Time
		wantErr      bool
		wantAttempts int
	}{
		{"right code", nil, "222222", t0.Add(time.Minute), false, 0},
		{"wrong code", nil, "999999", t0.Add(time.Minute), true, 1},
		{"expired", nil, "222222", t0.Add(15 * time.Minute), true, 0},
		{"exhausted", func(u *User) { u.PasswordReset.Attempts = MaxActivationAttempts }, "222222", t0, true, MaxActivationAttempts},
		{"no reset pending", func(u *User) { u.PasswordReset = OneTimeCode{} }, "222222", t0, true, 0},
		// The activation code was "123456"; it is no reset code.
		{"another purpose's code", func(u *User) {
			u.PasswordReset = newOneTimeCode(PurposeActivation, u.ID, "222222", t0, time.Hour)
		}, "222222", t0, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := activeTestUser(t)
			if err := u.IssuePasswordResetCode("222222", t0, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(&u)
			}
			err := u.ResetPassword(tt.code, "new-hash", tt.at)
			if tt.wantErr {
				if err != ErrInvalidResetCode {
					t.Fatalf("ResetPassword = %v, want ErrInvalidResetCode for every failure", err)
				}
				if u.PasswordHash != "hash" || u.PasswordReset.Attempts != tt.wantAttempts {
					t.Errorf("hash %q, attempts %d; want the old hash and %d attempts", u.PasswordHash, u.PasswordReset.Attempts, tt.wantAttempts)
				}
				return
			}
			if err != nil || u.PasswordHash != "new-hash" || u.PasswordReset.Pending() {
				t.Errorf("ResetPassword = %v; hash %q, pending %v", err, u.PasswordHash, u.PasswordReset.Pending())
			}
			if err := u.ResetPassword(tt.code, "newer-hash", tt.at); err != ErrInvalidResetCode {
				t.Errorf("the code worked twice: %v", err)
			}
		})
	}
}

func TestPasswordResetNeedsAnActiveAccount(t *testing.T) {
	u := newTestUser(t, "123456")
	if err := u.IssuePasswordResetCode("222222", t0, time.Hour); err != ErrAccountNotActive {
		t.Errorf("IssuePasswordResetCode on an inactive account = %v", err)
	}
}

func TestSetPasswordHashVoidsAPendingReset(t *testing.T) {
	u := activeTestUser(t)
	_ = u.IssuePasswordResetCode("222222", t0, time.Hour)
	u.SetPasswordHash("changed", t0)
	if u.PasswordReset.Pending() || u.PasswordHash != "changed" {
		t.Errorf("after SetPasswordHash: %+v", u)
	}
}
