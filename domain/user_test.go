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
		{"line separator in name", func(f *[4]string) { f[2] = "Astro\u2028Evil" }, []string{"first_name"}},
		{"paragraph separator in name", func(f *[4]string) { f[3] = "User\u2029Evil" }, []string{"last_name"}},
		{"C1 control in name", func(f *[4]string) { f[3] = "User\u0085Evil" }, []string{"last_name"}},
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

// testKey is the code key of the tests; keyOf another is a different key.
var testKey = mustCodeKey("the server secret of the domain tests")

func mustCodeKey(seed string) CodeKey {
	k, err := NewCodeKey([]byte(strings.Repeat(seed, 32/len(seed)+1)))
	if err != nil {
		panic(err)
	}
	return k
}

const testLink = LinkToken("link-token-0123456789abcdefghijklmnopqrstuvwxyz")

func newTestUser(t *testing.T, code SecretCode) User {
	t.Helper()
	reg, err := NewRegistration("astro@example.com", "StrongPassword123!", "Astro", "User")
	if err != nil {
		t.Fatal(err)
	}
	return NewUser("user-1", reg, "hash", testKey, CodeSecrets{Code: code, Link: testLink}, t0, time.Hour)
}

func TestNewUserIsInactiveWithPendingCode(t *testing.T) {
	u := newTestUser(t, "123456")
	if u.Active {
		t.Error("new user is active")
	}
	if !u.Activation.Pending() || !u.Activation.ExpiresAt.Equal(t0.Add(time.Hour)) || u.Activation.Attempts != 0 {
		t.Errorf("activation = %+v, want pending code expiring at %v", u.Activation, t0.Add(time.Hour))
	}
	if len(u.Activation.CodeHash) != 32 || len(u.Activation.LinkHash) != 32 || string(u.Activation.CodeHash) == string(u.Activation.LinkHash) {
		t.Errorf("code hash %x, link hash %x: want two distinct HMAC-SHA256 values", u.Activation.CodeHash, u.Activation.LinkHash)
	}
	if !errors.Is(u.CheckCanLogin(), ErrAccountNotActive) {
		t.Error("inactive user may log in")
	}
}

func TestActivate(t *testing.T) {
	tests := []struct {
		name         string
		prepare      func(u *User)
		proof        Proof
		at           time.Time
		want         error
		wantAttempts int
		wantWrong    int
	}{
		{"right code", nil, CodeProof("123456"), t0.Add(time.Minute), nil, 0, 0},
		{"right link", nil, LinkProof(string(testLink)), t0.Add(time.Minute), nil, 0, 0},
		{"wrong code", nil, CodeProof("654321"), t0.Add(time.Minute), ErrInvalidCode, 1, 1},
		{"wrong link counts nothing", nil, LinkProof("forged"), t0.Add(time.Minute), ErrInvalidCode, 0, 0},
		{"code given as link", nil, LinkProof("123456"), t0.Add(time.Minute), ErrInvalidCode, 0, 0},
		{"link given as code", nil, CodeProof(string(testLink)), t0.Add(time.Minute), ErrInvalidCode, 1, 1},
		{"malformed code", nil, CodeProof("12ab"), t0.Add(time.Minute), ErrInvalidCode, 1, 1},
		{"empty code", nil, CodeProof(""), t0.Add(time.Minute), ErrInvalidCode, 0, 0},
		{"just before expiry", nil, CodeProof("123456"), t0.Add(time.Hour - time.Nanosecond), nil, 0, 0},
		{"at expiry", nil, CodeProof("123456"), t0.Add(time.Hour), ErrCodeExpired, 0, 0},
		{"link at expiry", nil, LinkProof(string(testLink)), t0.Add(time.Hour), ErrCodeExpired, 0, 0},
		{"fifth wrong attempt still counted", func(u *User) { u.Activation.Attempts = 4 }, CodeProof("000000"), t0, ErrInvalidCode, 5, 1},
		{"exhausted even with right code", func(u *User) { u.Activation.Attempts = 5 }, CodeProof("123456"), t0, ErrCodeExhausted, 5, 0},
		{"the link works when the code is exhausted", func(u *User) { u.Activation.Attempts = 5 }, LinkProof(string(testLink)), t0, nil, 0, 0},
		{"the account's cap stops the right code", func(u *User) { u.WrongCodes = WrongCodes{N: MaxWrongCodes, At: t0} }, CodeProof("123456"), t0, ErrCodeExhausted, 0, MaxWrongCodes},
		{"the cap refills", func(u *User) { u.WrongCodes = WrongCodes{N: MaxWrongCodes, At: t0.Add(-WrongCodeRefill)} }, CodeProof("123456"), t0, nil, 0, MaxWrongCodes - 1},
		{"the link works at the cap", func(u *User) { u.WrongCodes = WrongCodes{N: MaxWrongCodes, At: t0} }, LinkProof(string(testLink)), t0, nil, 0, MaxWrongCodes},
		{"already active", func(u *User) { u.Active = true }, CodeProof("123456"), t0, ErrAlreadyActive, 0, 0},
		{"no pending code", func(u *User) { u.Activation = OneTimeCode{} }, CodeProof("123456"), t0, ErrInvalidCode, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newTestUser(t, "123456")
			if tt.prepare != nil {
				tt.prepare(&u)
			}
			err := u.Activate(testKey, tt.proof, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Activate = %v, want %v", err, tt.want)
			}
			if got := u.WrongCodes.Count(tt.at); got != tt.wantWrong {
				t.Errorf("wrong codes = %d, want %d", got, tt.wantWrong)
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
	if err := u.Activate(testKey, CodeProof("123456"), t0); err != nil {
		t.Fatal(err)
	}
	for _, proof := range []Proof{CodeProof("123456"), LinkProof(string(testLink))} {
		if err := u.Activate(testKey, proof, t0); !errors.Is(err, ErrAlreadyActive) {
			t.Errorf("second use = %v, want ErrAlreadyActive", err)
		}
	}
}

func TestIssueActivationCodeReplacesOldCode(t *testing.T) {
	u := newTestUser(t, "111111")
	u.Activation.Attempts = MaxActivationAttempts
	later := t0.Add(2 * time.Hour)
	if err := u.IssueActivationCode(testKey, CodeSecrets{Code: "222222", Link: "second-link"}, later, time.Hour); err != nil {
		t.Fatal(err)
	}
	if u.Activation.Attempts != 0 || !u.Activation.ExpiresAt.Equal(later.Add(time.Hour)) {
		t.Errorf("activation = %+v, want fresh state", u.Activation)
	}
	for _, old := range []Proof{CodeProof("111111"), LinkProof(string(testLink))} {
		if err := u.Activate(testKey, old, later); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("old proof = %v, want ErrInvalidCode", err)
		}
	}
	if err := u.Activate(testKey, CodeProof("222222"), later); err != nil {
		t.Errorf("new code = %v, want success", err)
	}
	if err := u.IssueActivationCode(testKey, CodeSecrets{Code: "333333"}, later, time.Hour); !errors.Is(err, ErrAlreadyActive) {
		t.Errorf("issue for active user = %v, want ErrAlreadyActive", err)
	}
}

// TestWrongCodesCapSpansEveryCode: resending a code does not buy more
// guesses: the cap counts wrong codes across every code, activation and
// reset alike.
func TestWrongCodesCapSpansEveryCode(t *testing.T) {
	u := newTestUser(t, "111111")
	now := t0
	for round := range MaxWrongCodes / MaxActivationAttempts {
		if err := u.IssueActivationCode(testKey, CodeSecrets{Code: "111111"}, now, time.Hour); err != nil {
			t.Fatal(err)
		}
		for i := range MaxActivationAttempts {
			if err := u.Activate(testKey, CodeProof("999999"), now); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("round %d, guess %d = %v", round, i, err)
			}
		}
		now = now.Add(time.Hour)
	}
	if err := u.IssueActivationCode(testKey, CodeSecrets{Code: "111111", Link: "fresh-link"}, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := u.Activate(testKey, CodeProof("111111"), now); !errors.Is(err, ErrCodeExhausted) {
		t.Fatalf("the right code at the cap = %v, want ErrCodeExhausted", err)
	}
	if err := u.Activate(testKey, LinkProof("fresh-link"), now); err != nil {
		t.Fatalf("the link at the cap = %v, want success", err)
	}
	if err := u.IssuePasswordResetCode(testKey, CodeSecrets{Code: "222222"}, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := u.ResetPassword(testKey, CodeProof("222222"), "new-hash", now); err != ErrInvalidResetCode {
		t.Errorf("a reset code at the cap = %v, want ErrInvalidResetCode: the cap covers every kind of code", err)
	}
}

// TestWrongCodesYearBound: an attacker who spends every guess the cap
// allows, for a year, gets the number the package comment promises.
func TestWrongCodesYearBound(t *testing.T) {
	var w WrongCodes
	guesses := 0
	for now := t0; now.Before(t0.Add(365 * 24 * time.Hour)); now = now.Add(time.Hour) {
		for w.Count(now) < MaxWrongCodes {
			w.Add(now)
			guesses++
		}
	}
	if guesses != 62 {
		t.Errorf("%d wrong codes in a year, want 62 (MaxWrongCodes + 52 refills)", guesses)
	}
}

func TestCodeHashIsBoundToUserPurposeAndKey(t *testing.T) {
	base := testKey.hash(PurposeActivation, "a", "123456")
	for name, other := range map[string][]byte{
		"user":    testKey.hash(PurposeActivation, "b", "123456"),
		"purpose": testKey.hash(PurposePasswordReset, "a", "123456"),
		"key":     mustCodeKey("another server").hash(PurposeActivation, "a", "123456"),
	} {
		if string(other) == string(base) {
			t.Errorf("the same code hashes equally for another %s", name)
		}
	}
	if _, err := NewCodeKey(make([]byte, 31)); err == nil {
		t.Error("NewCodeKey accepted a key of 31 bytes")
	}
}

func activeTestUser(t *testing.T) User {
	t.Helper()
	u := newTestUser(t, "123456")
	if err := u.Activate(testKey, CodeProof("123456"), t0); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordReset(t *testing.T) {
	tests := []struct {
		name         string
		prepare      func(u *User)
		proof        Proof
		at           time.Time
		wantErr      bool
		wantAttempts int
	}{
		{"right code", nil, CodeProof("222222"), t0.Add(time.Minute), false, 0},
		{"right link", nil, LinkProof("reset-link"), t0.Add(time.Minute), false, 0},
		{"wrong code", nil, CodeProof("999999"), t0.Add(time.Minute), true, 1},
		{"expired", nil, CodeProof("222222"), t0.Add(15 * time.Minute), true, 0},
		{"exhausted", func(u *User) { u.PasswordReset.Attempts = MaxActivationAttempts }, CodeProof("222222"), t0, true, MaxActivationAttempts},
		{"no reset pending", func(u *User) { u.PasswordReset = OneTimeCode{} }, CodeProof("222222"), t0, true, 0},
		{"another purpose's code", func(u *User) {
			u.PasswordReset = newOneTimeCode(testKey, activationPurposes, u.ID, CodeSecrets{Code: "222222"}, t0, time.Hour)
		}, CodeProof("222222"), t0, true, 1},
		{"another purpose's link", func(u *User) {
			u.PasswordReset = newOneTimeCode(testKey, activationPurposes, u.ID, CodeSecrets{Link: "reset-link"}, t0, time.Hour)
		}, LinkProof("reset-link"), t0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := activeTestUser(t)
			if err := u.IssuePasswordResetCode(testKey, CodeSecrets{Code: "222222", Link: "reset-link"}, t0, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(&u)
			}
			probe := u
			if err := probe.CheckPasswordReset(testKey, tt.proof, tt.at); (err != nil) != tt.wantErr {
				t.Fatalf("CheckPasswordReset = %v, want an error: %v", err, tt.wantErr)
			}
			if probe.PasswordHash != u.PasswordHash || (!tt.wantErr && !probe.PasswordReset.Pending()) {
				t.Error("CheckPasswordReset changed the password or spent the code")
			}
			err := u.ResetPassword(testKey, tt.proof, "new-hash", tt.at)
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
			if err := u.ResetPassword(testKey, tt.proof, "newer-hash", tt.at); err != ErrInvalidResetCode {
				t.Errorf("the code worked twice: %v", err)
			}
		})
	}
}

func TestPasswordResetNeedsAnActiveAccount(t *testing.T) {
	u := newTestUser(t, "123456")
	if err := u.IssuePasswordResetCode(testKey, CodeSecrets{Code: "222222"}, t0, time.Hour); err != ErrAccountNotActive {
		t.Errorf("IssuePasswordResetCode on an inactive account = %v", err)
	}
}

func TestSetPasswordHashVoidsAPendingReset(t *testing.T) {
	u := activeTestUser(t)
	if err := u.IssuePasswordResetCode(testKey, CodeSecrets{Code: "222222"}, t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !u.PasswordReset.Pending() {
		t.Fatal("no reset pending after IssuePasswordResetCode")
	}
	u.SetPasswordHash("changed", t0)
	if u.PasswordReset.Pending() || u.PasswordHash != "changed" {
		t.Errorf("after SetPasswordHash: %+v", u)
	}
}

func TestUnlockLink(t *testing.T) {
	u := activeTestUser(t)
	u.IssueUnlockLink(testKey, "unlock-token", t0, time.Hour)
	for name, token := range map[string]string{"wrong token": "forged", "empty token": ""} {
		if err := u.UseUnlockLink(testKey, token, t0); err != ErrInvalidUnlockToken {
			t.Errorf("%s = %v, want ErrInvalidUnlockToken", name, err)
		}
	}
	if err := u.UseUnlockLink(testKey, "unlock-token", t0.Add(time.Hour)); err != ErrInvalidUnlockToken {
		t.Errorf("expired token = %v, want ErrInvalidUnlockToken", err)
	}
	if err := u.UseUnlockLink(testKey, "unlock-token", t0.Add(time.Minute)); err != nil {
		t.Fatalf("right token = %v", err)
	}
	if err := u.UseUnlockLink(testKey, "unlock-token", t0.Add(time.Minute)); err != ErrInvalidUnlockToken {
		t.Errorf("second use = %v, want ErrInvalidUnlockToken", err)
	}
	if u.WrongCodes.Count(t0) != 0 {
		t.Error("unlock tokens counted toward the wrong-code cap")
	}
}
