package passwords

import (
	"errors"
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn"

	"authapi/domain"
)

// astro is the user whose passwords the tests judge.
var astro = []string{"astro.user@example.com", "astro.user", "Astro", "User"}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		password   string
		wantReason string // empty: accepted
	}{
		// The ten most common passwords, in the estimator's ranking.
		{"most common 1", "123456", reasonCommon},
		{"most common 2", "password", reasonCommon},
		{"most common 3", "12345678", reasonCommon},
		{"most common 4", "qwerty", reasonCommon},
		{"most common 5", "123456789", reasonCommon},
		{"most common 6", "12345", reasonCommon},
		{"most common 7", "1234", reasonCommon},
		{"most common 8", "111111", reasonCommon},
		{"most common 9", "1234567", reasonCommon},
		{"most common 10", "dragon", reasonCommon},
		{"common with digits", "password123", reasonCommon},
		{"common in l33t", "p@ssw0rd", reasonCommon},
		{"common reversed", "drowssap", reasonFromCommon},
		{"common plus a symbol", "Password1!", reasonFromCommon},
		{"common repeated", "passwordpassword", reasonFromCommon},
		{"common with a year", "P@ssw0rd2024", reasonFromCommon},
		{"email local part and digits", "astro.user2024", reasonUserInputs},
		{"email local part in capitals", "ASTRO.USER99", reasonUserInputs},
		{"whole email and a digit", "astro.user@example.com1", reasonUserInputs},
		{"first name and year", "Astro1990", reasonUserInputs},
		{"last name and digits", "user1234", reasonUserInputs},
		{"alphabet sequence", "abcdefghijk", reasonGuessable},
		{"one character repeated", "aaaaaaaaaaaa", reasonGuessable},
		{"keyboard row", "zxcvbnm,./", reasonGuessable},
		{"date", "13/05/1987", reasonGuessable},
		{"weak beyond the scored prefix", strings.Repeat("password", 16), reasonFromCommon},
		{"the API document's example", "StrongPassword123!", ""},
		{"random 20 characters", "xK9#mQ2$vL7@pR4!nW8z", ""},
		{"four unrelated words", "correct horse battery staple", ""},
		{"name with enough else", "Astro.User1990!", ""},
		{"non-ASCII", "Пароль-для-почты-7", ""},
		{"128 characters", strings.Repeat("xK9#mQ2$vL7@pR4!", 8), ""},
	}
	policy, err := New(DefaultScore)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.Check(tt.password, astro)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			if got := fieldMessage(t, err); got != tt.wantReason {
				t.Errorf("reason = %q, want %q", got, tt.wantReason)
			}
		})
	}
}

// fieldMessage returns the message of err, which must be a validation error
// on the password alone.
func fieldMessage(t *testing.T, err error) string {
	t.Helper()
	var derr *domain.Error
	if !errors.As(err, &derr) || !errors.Is(err, domain.ErrValidation) {
		t.Fatalf("err = %v, want a validation error", err)
	}
	if len(derr.Fields) != 1 || derr.Fields[0].Field != "password" {
		t.Fatalf("fields = %+v, want one for password", derr.Fields)
	}
	return derr.Fields[0].Message
}

func TestRejectionNeverQuotesThePassword(t *testing.T) {
	policy, err := New(MaxScore)
	if err != nil {
		t.Fatal(err)
	}
	for _, password := range []string{"password123", "Astro1990", "astro.user2024", "qazwsx123", "Summer2024", "kHz7-Lp2q", strings.Repeat("ab12", 32)} {
		t.Run(password, func(t *testing.T) {
			err := policy.Check(password, astro)
			if err == nil {
				t.Fatal("accepted, want refused at the highest minimum")
			}
			if strings.Contains(err.Error(), password) || strings.Contains(fieldMessage(t, err), password) {
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}
}

func TestMinimumScore(t *testing.T) {
	tests := []struct {
		name     string
		minScore int
		password string // scores 1: a name and a date
		wantOK   bool
	}{
		{"0 accepts even the most common", MinScore, "123456", true},
		{"1 accepts a score of 1", 1, "Astro1990", true},
		{"2 refuses a score of 1", 2, "Astro1990", false},
		{"4 refuses a score of 3", MaxScore, "StrongPassword123!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy, err := New(tt.minScore)
			if err != nil {
				t.Fatal(err)
			}
			if err := policy.Check(tt.password, astro); (err == nil) != tt.wantOK {
				t.Errorf("Check = %v, want accepted %v", err, tt.wantOK)
			}
		})
	}
}

func TestNewRefusesScoresOutOfRange(t *testing.T) {
	for _, score := range []int{-1, 5} {
		if _, err := New(score); err == nil {
			t.Errorf("New(%d) succeeded, want an error", score)
		}
	}
}

func TestUserInputsMatter(t *testing.T) {
	policy, err := New(DefaultScore)
	if err != nil {
		t.Fatal(err)
	}
	const password = "zoe.quentin42"
	if err := policy.Check(password, nil); err != nil {
		t.Fatalf("without user inputs: %v, want accepted", err)
	}
	err = policy.Check(password, []string{"", " ", "zoe.quentin@example.com", "zoe.quentin"})
	if got := fieldMessage(t, err); got != reasonUserInputs {
		t.Errorf("reason = %q, want %q", got, reasonUserInputs)
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"añb€c", 4, "añb€"},
		{"😀😀😀", 2, "😀😀"},
	}
	for _, tt := range tests {
		if got := prefix(tt.s, tt.n); got != tt.want {
			t.Errorf("prefix(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// BenchmarkCheck measures one Check at the default minimum. The l33t
// inputs are the estimator's worst case: every l33t character multiplies the
// dictionary lookups. "unbounded" scores the whole 128 characters, as Check
// would without its prefix, for comparison.
func BenchmarkCheck(b *testing.B) {
	l33t := strings.Repeat("%6@3+{$<55!$2<530!0$9%<%3(7[624264!(<(<6$+[01$135%66!9{06423<849", 2)
	cases := []struct {
		name     string
		password string
	}{
		{"typical 18", "StrongPassword123!"},
		{"common 11", "password123"},
		{"random 128", strings.Repeat("xK9#mQ2$vL7@pR4!", 8)},
		{"dates 128", strings.Repeat("19901231", 16)},
		{"emoji 128", strings.Repeat("😀🔑", 64)},
		{"l33t 128", l33t},
	}
	policy, err := New(DefaultScore)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_ = policy.Check(c.password, astro)
			}
		})
	}
	b.Run("l33t 128 unbounded", func(b *testing.B) {
		for b.Loop() {
			zxcvbn.PasswordStrength(l33t, astro)
		}
	})
}
