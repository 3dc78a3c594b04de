package domain

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// codeOf is a stand-in TOTP: the code of a step is its last six digits, so
// a test reads which step a code belongs to.
func codeOf(step int64) (string, error) { return fmt.Sprintf("%06d", step%1_000_000), nil }

func TestMatchTOTP(t *testing.T) {
	now := time.Unix(1_700_000_010, 0) // 10 s into its step
	cur := TOTPStepAt(now)
	code := func(step int64) string { c, _ := codeOf(step); return c }
	tests := []struct {
		name     string
		code     string
		lastStep int64
		want     int64 // 0: refused
	}{
		{"current step", code(cur), 0, cur},
		{"one step behind", code(cur - 1), 0, cur - 1},
		{"one step ahead", code(cur + 1), 0, cur + 1},
		{"two steps behind", code(cur - 2), 0, 0},
		{"two steps ahead", code(cur + 2), 0, 0},
		{"replayed: its step was used", code(cur), cur, 0},
		{"an older step after a newer was used", code(cur - 1), cur, 0},
		{"a newer step after an older was used", code(cur + 1), cur, cur + 1},
		{"surrounding spaces", " " + code(cur) + " ", 0, cur},
		{"five digits", code(cur)[1:], 0, 0},
		{"letters", "12ab56", 0, 0},
		{"empty", "", 0, 0},
		{"seven digits", code(cur) + "0", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MatchTOTP(tt.code, now, tt.lastStep, codeOf)
			if tt.want == 0 {
				if !errors.Is(err, ErrInvalidMFACode) {
					t.Errorf("MatchTOTP = %d, %v; want ErrInvalidMFACode", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("MatchTOTP = %d, %v; want step %d", got, err, tt.want)
			}
		})
	}
	// At the edge of a step, the window moves with it.
	edge := time.Unix((cur+1)*30, 0) // the first second of the next step
	if got, err := MatchTOTP(code(cur+2), edge, 0, codeOf); err != nil || got != cur+2 {
		t.Errorf("at the step's edge, the step after next = %d, %v; want it accepted", got, err)
	}
	if _, err := MatchTOTP(code(cur-1), edge, 0, codeOf); !errors.Is(err, ErrInvalidMFACode) {
		t.Errorf("at the step's edge, two steps back = %v; want refused", err)
	}
}

func TestTOTPEnrolment(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := User{ID: "u1"}
	if err := u.StartTOTP([]byte("sealed-1"), now); err != nil {
		t.Fatal(err)
	}
	if u.MFA.Enabled() || u.MFA.Methods() != nil {
		t.Fatal("a pending enrolment turned the second factor on")
	}
	if err := u.StartTOTP([]byte("sealed-2"), now); err != nil || string(u.MFA.PendingTOTPSecret) != "sealed-2" {
		t.Fatalf("starting again: %v, pending %q; want the new secret pending", err, u.MFA.PendingTOTPSecret)
	}
	if err := u.ConfirmTOTP(42, [][]byte{{1}, {2}}, now); err != nil {
		t.Fatal(err)
	}
	if !u.MFA.Enabled() || string(u.MFA.TOTPSecret) != "sealed-2" || u.MFA.LastTOTPStep != 42 || len(u.MFA.PendingTOTPSecret) != 0 {
		t.Errorf("after confirming: %+v", u.MFA)
	}
	if got := strings.Join(u.MFA.Methods(), ","); got != "totp,recovery_code" {
		t.Errorf("methods = %s", got)
	}
	if err := u.StartTOTP([]byte("sealed-3"), now); !errors.Is(err, ErrMFAAlreadyEnabled) {
		t.Errorf("enrolling over an enabled factor = %v, want ErrMFAAlreadyEnabled", err)
	}
	u.DisableMFA(now)
	if u.MFA.Enabled() || len(u.MFA.RecoveryCodes) != 0 {
		t.Errorf("after disabling: %+v", u.MFA)
	}
	if err := u.ConfirmTOTP(1, nil, now); !errors.Is(err, ErrNoPendingTOTP) {
		t.Errorf("confirming with nothing pending = %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	key := testKey
	seq := make([]byte, 256)
	for i := range seq {
		seq[i] = byte(i * 7)
	}
	set, err := GenerateRecoveryCodes(key, "u1", bytes.NewReader(seq))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Codes) != RecoveryCodeCount || len(set.Hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(set.Codes), len(set.Hashes))
	}
	distinct := map[string]bool{}
	for _, c := range set.Codes {
		distinct[c] = true
	}
	if len(distinct) != RecoveryCodeCount {
		t.Fatalf("codes repeat: %v", set.Codes)
	}
	for _, c := range set.Codes {
		if len(c) != 11 || c[5] != '-' || strings.Trim(strings.Replace(c, "-", "", 1), recoveryAlphabet) != "" {
			t.Errorf("code %q: want five and five characters of the alphabet", c)
		}
	}
	u := User{ID: "u1", MFA: MFA{TOTPSecret: []byte("x"), RecoveryCodes: set.Hashes}}
	now := time.Unix(1_700_000_000, 0)
	typed := strings.ToUpper(strings.Replace(set.Codes[3], "-", " ", 1))
	left, err := u.UseRecoveryCode(key, typed, now)
	if err != nil || left != RecoveryCodeCount-1 {
		t.Fatalf("UseRecoveryCode(%q) = %d, %v; want it spent, 9 left", typed, left, err)
	}
	if _, err := u.UseRecoveryCode(key, set.Codes[3], now); !errors.Is(err, ErrInvalidMFACode) {
		t.Errorf("a spent code = %v, want ErrInvalidMFACode", err)
	}
	other := User{ID: "u2", MFA: MFA{TOTPSecret: []byte("x"), RecoveryCodes: set.Hashes}}
	if _, err := other.UseRecoveryCode(key, set.Codes[0], now); !errors.Is(err, ErrInvalidMFACode) {
		t.Errorf("another account's code = %v, want ErrInvalidMFACode", err)
	}
	for _, bad := range []string{"", "00000-00000", strings.Repeat("a", 100)} {
		if _, err := u.UseRecoveryCode(key, bad, now); !errors.Is(err, ErrInvalidMFACode) {
			t.Errorf("UseRecoveryCode(%q) = %v", bad, err)
		}
	}
	if err := (&User{}).ReplaceRecoveryCodes(set.Hashes, now); !errors.Is(err, ErrMFANotEnabled) {
		t.Errorf("new codes without a factor = %v", err)
	}
}

func TestChallengeOpen(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := Challenge{Purpose: ChallengeLoginMFA, ExpiresAt: now.Add(MFAChallengeTTL)}
	if !c.Open(ChallengeLoginMFA, now) {
		t.Fatal("a new challenge is not open")
	}
	if c.Open("other", now) || c.Open(ChallengeLoginMFA, c.ExpiresAt) {
		t.Error("open for another purpose, or at its expiry")
	}
	for range MaxChallengeFailures - 1 {
		c.Fail()
	}
	if !c.Open(ChallengeLoginMFA, now) {
		t.Error("closed before its last failure")
	}
	c.Fail()
	if c.Open(ChallengeLoginMFA, now) {
		t.Error("open after its last failure")
	}
	used := Challenge{Purpose: ChallengeLoginMFA, ExpiresAt: now.Add(time.Minute)}
	used.Use(now)
	if used.Open(ChallengeLoginMFA, now) {
		t.Error("open after use")
	}
}
