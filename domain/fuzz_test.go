package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"authapi/domain"
)

// Seeds shared by the email targets: the shapes net/mail accepts or nearly
// accepts, and the ones an attacker would try.
var emailSeeds = []string{
	"astro.user@example.com",
	"  Astro.User@Example.COM\t",
	"a+tag@sub.example.co.uk",
	`"quoted"@example.com`,
	`"a@b"@example.com`,
	"a@b@example.com",
	"Astro <astro@example.com>",
	"a@[127.0.0.1]",
	"a@example..com",
	"a@example.com.",
	"a@localhost",
	"a@example.com (comment)",
	"\u212Aelvin@example.com",
	"\u0130@example.com",
	"\u0430stro@example.com",
	"a\u0085b@example.com",
	"a\u2028b@example.com",
	"a\u200bb@example.com",
	"astro\xff@example.com",
	"victim@example.com\r\nBcc: x@evil.example",
	"' OR 1=1 --@example.com",
	strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com",
	strings.Repeat("\u023a", 120) + "@example.com",
}

// FuzzParseEmail checks the invariants of a normalized email: parsing
// accepts only what it can normalize to a canonical form, and the canonical
// form parses to itself.
func FuzzParseEmail(f *testing.F) {
	for _, s := range emailSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := domain.ParseEmail(raw)
		if err != nil {
			if got != "" {
				t.Errorf("ParseEmail(%q) = %q with error %v", raw, got, err)
			}
			wantEmailFieldError(t, err)
			return
		}
		s := string(got)
		if norm := domain.NormalizeEmail(raw); norm != got {
			t.Errorf("ParseEmail(%q) = %q, but NormalizeEmail gives %q", raw, got, norm)
		}
		again, err := domain.ParseEmail(s)
		if err != nil || again != got {
			t.Errorf("ParseEmail(%q) = %q, %v; want it unchanged", s, again, err)
		}
		switch {
		case !utf8.ValidString(s):
			t.Errorf("%q is not valid UTF-8", s)
		case len(s) > domain.MaxEmailBytes:
			t.Errorf("%q has %d bytes", s, len(s))
		case strings.TrimSpace(s) != s:
			t.Errorf("%q is not trimmed", s)
		case strings.ToLower(s) != s:
			t.Errorf("%q is not lower-case", s)
		}
		for _, r := range s {
			// Invisible line breaks, controls and format characters would
			// make two addresses that print alike, or break the lines of an
			// email header.
			if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
				t.Errorf("%q contains %U", s, r)
			}
		}
		local, host, ok := splitOutsideQuotes(s)
		if !ok || local == "" {
			t.Fatalf("%q does not have exactly one '@' outside quotes", s)
		}
		if !strings.Contains(host, ".") || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") ||
			strings.Contains(host, "..") || strings.ContainsAny(host, "[]") {
			t.Errorf("%q has domain %q, which is not a dotted name", s, host)
		}
	})
}

// splitOutsideQuotes splits an address at its one '@' outside quoted
// strings, reporting false if there is not exactly one.
func splitOutsideQuotes(s string) (local, host string, ok bool) {
	at, inQuotes, escaped := -1, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case inQuotes && c == '\\':
			escaped = true
		case c == '"':
			inQuotes = !inQuotes
		case c == '@' && !inQuotes:
			if at >= 0 {
				return "", "", false
			}
			at = i
		}
	}
	if at < 0 || inQuotes {
		return "", "", false
	}
	return s[:at], s[at+1:], true
}

func wantEmailFieldError(t *testing.T, err error) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || !errors.Is(err, domain.ErrValidation) {
		t.Fatalf("error %v is not a validation error", err)
	}
	if len(de.Fields) != 1 || de.Fields[0].Field != "email" || de.Fields[0].Message == "" {
		t.Errorf("fields = %+v, want one problem with email", de.Fields)
	}
}

// FuzzNewRegistration checks that a signup is either refused with exactly
// the fields that break the documented rules, or accepted and normalized
// within the limits. The rules are restated here from the documentation
// rather than taken from the package.
func FuzzNewRegistration(f *testing.F) {
	f.Add("astro.user@example.com", "StrongPassword123!", "Astro", "User")
	f.Add(" Astro.User@Example.com ", "astro.user@example.com", " Astro ", "\tUser\n")
	f.Add("astro.user@example.com", " ASTRO.USER@EXAMPLE.COM ", "A", "B")
	f.Add("", "", "", "")
	f.Add("not-an-email", "short", "   ", "\x00")
	f.Add("a@example.com", strings.Repeat("\u00e9", 128), strings.Repeat("x", 100), strings.Repeat("y", 101))
	f.Add("a@example.com", strings.Repeat("p", 129), "Na\u0007me", "\u202eName")
	f.Add("a@example.com", "pass\xffword1", "bad\xff", "Ok")
	f.Add("\u212Aelvin@example.com", "\u212AELVIN@example.com", "Kelvin", "Sign")
	f.Fuzz(func(t *testing.T, email, password, first, last string) {
		reg, err := domain.NewRegistration(email, password, first, last)

		normalized, emailErr := domain.ParseEmail(email)
		var want []string
		if emailErr != nil {
			want = append(want, "email")
		}
		if !passwordAcceptable(password, normalized) {
			want = append(want, "password")
		}
		if !nameAcceptable(first) {
			want = append(want, "first_name")
		}
		if !nameAcceptable(last) {
			want = append(want, "last_name")
		}

		if err != nil {
			if reg != (domain.Registration{}) {
				t.Errorf("refused registration is not empty: %+v", reg)
			}
			var de *domain.Error
			if !errors.As(err, &de) || !errors.Is(err, domain.ErrValidation) {
				t.Fatalf("error %v is not a validation error", err)
			}
			var got []string
			for _, fe := range de.Fields {
				got = append(got, fe.Field)
				if fe.Message == "" {
					t.Errorf("field %s has no message", fe.Field)
				}
				for _, input := range []string{email, password, first, last} {
					// Messages describe the rule; they never echo what was sent.
					if len(input) >= 12 && strings.Contains(fe.Message, input) {
						t.Errorf("message %q echoes an input", fe.Message)
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("invalid fields = %v, want %v", got, want)
			}
			return
		}
		if len(want) > 0 {
			t.Fatalf("accepted, but %v break the rules: %+v", want, reg)
		}
		if reg.Email != normalized {
			t.Errorf("Email = %q, want %q", reg.Email, normalized)
		}
		if reg.Password != password {
			t.Errorf("the password was altered")
		}
		if reg.FirstName != strings.TrimSpace(first) || reg.LastName != strings.TrimSpace(last) {
			t.Errorf("names = %q, %q; want them trimmed", reg.FirstName, reg.LastName)
		}
	})
}

// passwordAcceptable restates the password rule: 8 to 128 characters of
// valid UTF-8, not the (valid) email address.
func passwordAcceptable(password string, email domain.Email) bool {
	n := utf8.RuneCountInString(password)
	if !utf8.ValidString(password) || n < domain.MinPasswordLength || n > domain.MaxPasswordLength {
		return false
	}
	return email == "" || !strings.EqualFold(strings.TrimSpace(password), string(email))
}

// nameAcceptable restates the name rule: once trimmed, 1 to 100 characters
// of valid UTF-8 with no control characters and no bidirectional embedding,
// override or isolate.
func nameAcceptable(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n < 1 || n > domain.MaxNameLength {
		return false
	}
	return !strings.ContainsFunc(name, unicode.IsControl) &&
		!strings.ContainsAny(name, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
}

// FuzzNewSessionUserAgent checks how a session keeps its user agent: as
// printable UTF-8 (invalid bytes and control characters become U+FFFD), cut
// to at most MaxUserAgentLength bytes at a character boundary, so that no
// more than one character is lost to the cut, and as sent when it was such
// text already.
func FuzzNewSessionUserAgent(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64)")
	f.Add(strings.Repeat("\u20ac", 100))
	f.Add(strings.Repeat("a", 255) + "\U0001F984")
	f.Add("\xff" + strings.Repeat("b", 300))
	f.Add("curl/8.5\x00\r\nX-Injected: 1")
	f.Fuzz(func(t *testing.T, ua string) {
		s := domain.NewSession("s", "u", "r", domain.Client{IP: "192.0.2.1", UserAgent: ua}, time.Unix(0, 0), time.Hour)
		got := s.UserAgent
		clean := utf8.ValidString(ua) && !strings.ContainsFunc(ua, unicode.IsControl)
		switch {
		case !utf8.ValidString(got) || strings.ContainsFunc(got, unicode.IsControl):
			t.Errorf("kept %q: not printable UTF-8", got)
		case len(got) > domain.MaxUserAgentLength:
			t.Errorf("kept %d bytes", len(got))
		case clean && len(ua) <= domain.MaxUserAgentLength && got != ua:
			t.Errorf("changed a short printable agent %q to %q", ua, got)
		case clean && !strings.HasPrefix(ua, got):
			t.Errorf("kept %q, not a prefix of the printable %q", got, ua)
		case clean && len(ua) > domain.MaxUserAgentLength && len(got) <= domain.MaxUserAgentLength-utf8.UTFMax:
			t.Errorf("cut %d bytes to %d", len(ua), len(got))
		}
	})
}
