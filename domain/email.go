package domain

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEmailBytes is the longest address SMTP can carry (RFC 5321 path limit
// less the angle brackets).
const MaxEmailBytes = 254

// Email is a normalized email address: trimmed and lower-cased, so that one
// mailbox maps to exactly one account however its owner types it.
type Email string

// ParseEmail validates raw and returns it normalized. It accepts a bare
// address only ("a@example.com"), never a display name or angle brackets.
func ParseEmail(raw string) (Email, error) {
	email, problem := parseEmail(raw)
	if problem != "" {
		var v Validation
		v.Add("email", problem)
		return "", v.Err()
	}
	return email, nil
}

// parseEmail normalizes raw and returns a description of what is wrong with
// it, if anything.
func parseEmail(raw string) (Email, string) {
	// Checked before lower-casing, which would replace invalid bytes.
	if !utf8.ValidString(raw) {
		return "", "must be valid UTF-8"
	}
	email := NormalizeEmail(raw)
	if problem := emailProblem(string(email)); problem != "" {
		return "", problem
	}
	return email, ""
}

// NormalizeEmail trims and lower-cases raw without validating it. Lookups use
// it so that "Astro@Example.com " finds the account created as
// "astro@example.com"; an invalid address simply finds nothing.
func NormalizeEmail(raw string) Email {
	return Email(strings.ToLower(strings.TrimSpace(raw)))
}

func (e Email) String() string { return string(e) }

// LookupEmail normalizes an address that a request names to find an
// account, and refuses one that no account can have: empty, longer than
// MaxEmailBytes, or not UTF-8. It accepts every other string, so that an
// invalid address is answered like an unknown one; the check exists so that
// no request can make a limiter or a query carry a megabyte of "email".
func LookupEmail(raw string) (Email, error) {
	var v Validation
	email := NormalizeEmail(raw)
	switch {
	case email == "":
		v.Add("email", "is required")
	case len(email) > MaxEmailBytes:
		v.Add("email", "must be at most 254 bytes")
	case !utf8.ValidString(raw):
		v.Add("email", "must be valid UTF-8")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return email, nil
}

func emailProblem(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) > MaxEmailBytes:
		return "must be at most 254 bytes"
	}
	addr, err := mail.ParseAddress(s)
	// ParseAddress also accepts "Name <a@b>" and comments; insisting that the
	// parsed address is the whole input rejects those forms.
	if err != nil || addr.Address != s || addr.Name != "" {
		return "must be a valid email address"
	}
	// net/mail takes any non-ASCII rune as an address character, including
	// C1 controls such as NEL and the line separators U+2028 and U+2029,
	// which break lines in mail headers and logs and print as nothing.
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return "must be a valid email address"
	}
	// Format characters print as nothing, or reorder what follows them: a
	// zero-width space would make a second account that looks like the
	// first, and a right-to-left override would make an address read as
	// another in logs and lists.
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		return "must not contain invisible formatting characters"
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") ||
		strings.HasPrefix(domain, "[") {
		return "must be a valid email address with a domain name"
	}
	return ""
}
