package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Email // empty means invalid
	}{
		{"plain", "astro.user@example.com", "astro.user@example.com"},
		{"trimmed and lower-cased", "  Astro.User@Example.COM\t", "astro.user@example.com"},
		{"plus addressing", "a+tag@example.co.uk", "a+tag@example.co.uk"},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"no at", "example.com", ""},
		{"no domain dot", "a@localhost", ""},
		{"display name", "Astro <astro@example.com>", ""},
		{"angle brackets", "<astro@example.com>", ""},
		{"two ats", "a@b@example.com", ""},
		{"trailing dot", "a@example.com.", ""},
		{"double dot in domain", "a@example..com", ""},
		{"ip literal", "a@[127.0.0.1]", ""},
		{"space inside", "a b@example.com", ""},
		{"comment", "a@example.com (me)", ""},
		{"too long", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", ""},
		{"invalid utf-8", "a\xff@example.com", ""},
		{"nul byte", "a\x00@example.com", ""},
		{"zero-width space", "a\u200bb@example.com", ""},
		{"zero-width joiner", "a\u200db@example.com", ""},
		{"byte order mark", "\ufeffa@example.com", ""},
		{"right-to-left override", "a\u202eb@example.com", ""},
		{"soft hyphen", "a\u00adb@example.com", ""},
		{"non-ASCII letters", "j\u00fcrgen@example.com", "j\u00fcrgen@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmail(tt.raw)
			if tt.want == "" {
				if !errors.Is(err, ErrValidation) {
					t.Fatalf("ParseEmail(%q) = %q, %v; want a validation error", tt.raw, got, err)
				}
				var e *Error
				if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "email" {
					t.Fatalf("error fields = %+v, want one for email", e)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseEmail(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestParseEmailLengthBoundary(t *testing.T) {
	local := strings.Repeat("a", 64)
	domain := strings.Repeat("b", MaxEmailBytes-len(local)-1-4) + ".com"
	atLimit := local + "@" + domain
	if len(atLimit) != MaxEmailBytes {
		t.Fatalf("test setup: len = %d", len(atLimit))
	}
	if _, err := ParseEmail(atLimit); err != nil {
		t.Errorf("254-byte address rejected: %v", err)
	}
	if _, err := ParseEmail("a" + atLimit); err == nil {
		t.Error("255-byte address accepted")
	}
}

func TestNormalizeEmail(t *testing.T) {
	if got, want := NormalizeEmail(" A@B.Example "), Email("a@b.example"); got != want {
		t.Errorf("NormalizeEmail = %q, want %q", got, want)
	}
}
