package testkit_test

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// rfc6238Seed is the SHA-1 seed of RFC 6238's test vectors (Appendix B).
const rfc6238Seed = "12345678901234567890"

// rfc6238Vectors are RFC 6238's SHA-1 test vectors: the time and the
// 8-digit code of rfc6238Seed then.
var rfc6238Vectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

func TestHOTPMatchesRFC6238Vectors(t *testing.T) {
	for _, v := range rfc6238Vectors {
		at := time.Unix(v.unix, 0).UTC()
		step := testkit.TOTPStepAt(at)
		if got := testkit.HOTP([]byte(rfc6238Seed), uint64(step), 8); got != v.code {
			t.Errorf("8-digit code at %d (step %d) = %s, want %s", v.unix, step, got, v.code)
		}
	}
}

// TestAuthenticatorMatchesRFC6238Vectors: an app given the seed in base32
// shows the last six digits of each vector, as six-digit TOTP is the same
// truncated value taken modulo 10^6.
func TestAuthenticatorMatchesRFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte(rfc6238Seed))
	spellings := map[string]string{
		"as encoded":              secret,
		"lower case":              strings.ToLower(secret),
		"in groups of four":       groups(secret, 4),
		"without padding":         strings.TrimRight(secret, "="),
		"lower case, no padding":  strings.ToLower(strings.TrimRight(secret, "=")),
		"with dashes every eight": strings.ReplaceAll(groups(secret, 8), " ", "-"),
	}
	for name, s := range spellings {
		t.Run(name, func(t *testing.T) {
			app, err := testkit.NewAuthenticatorApp(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range rfc6238Vectors {
				at := time.Unix(v.unix, 0).UTC()
				want := v.code[len(v.code)-6:]
				if got := app.Code(at); got != want {
					t.Errorf("code at %d = %s, want %s", v.unix, got, want)
				}
				if got := app.CodeOfStep(testkit.TOTPStepAt(at)); got != want {
					t.Errorf("code of the step of %d = %s, want %s", v.unix, got, want)
				}
			}
		})
	}
}

func TestTOTPStepBoundaries(t *testing.T) {
	tests := []struct {
		unix int64
		step int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2}, {1111111109, 37037036}, {1111111111, 37037037},
	}
	for _, tt := range tests {
		if got := testkit.TOTPStepAt(time.Unix(tt.unix, 0)); got != tt.step {
			t.Errorf("step at %d = %d, want %d", tt.unix, got, tt.step)
		}
	}
	// Within a step the code stays; across its boundary it changes.
	app, err := testkit.NewAuthenticatorApp(base32.StdEncoding.EncodeToString([]byte(rfc6238Seed)))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := app.Code(time.Unix(1111111110, 0)), app.Code(time.Unix(1111111139, 0)); a != b {
		t.Errorf("codes within one step differ: %s and %s", a, b)
	}
	if a, b := app.Code(time.Unix(1111111139, 0)), app.Code(time.Unix(1111111140, 0)); a == b {
		t.Errorf("codes either side of a step boundary are both %s", a)
	}
}

func TestNewAuthenticatorRefusesWhatIsNotBase32(t *testing.T) {
	for _, s := range []string{"", "====", "not base32!", "18OI", "JBSWY3DPEHPK3PX1"} {
		if _, err := testkit.NewAuthenticatorApp(s); err == nil {
			t.Errorf("NewAuthenticator(%q) took it", s)
		}
	}
}

// groups writes s in groups of n characters separated by spaces.
func groups(s string, n int) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), " ")
}
