package domain

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var opNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func activeUser() User {
	return User{ID: "u1", Email: "a@example.com", FirstName: "Astro", LastName: "User", Active: true, ActivatedAt: opNow.Add(-time.Hour)}
}

// TestDisabledAccountsCannotLogIn: disabling wins over every other state,
// is said only after the password was checked (by the caller), and enabling
// restores what was before.
func TestDisabledAccountsCannotLogIn(t *testing.T) {
	u := activeUser()
	if err := u.CheckCanLogin(); err != nil {
		t.Fatalf("an active account: %v", err)
	}
	u.Disable(opNow)
	if !errors.Is(u.CheckCanLogin(), ErrAccountDisabled) || !u.DisabledAt.Equal(opNow) {
		t.Errorf("a disabled account: %v, disabled at %v", u.CheckCanLogin(), u.DisabledAt)
	}
	u.Disable(opNow.Add(time.Hour))
	if !u.DisabledAt.Equal(opNow) {
		t.Errorf("disabling again moved the time to %v", u.DisabledAt)
	}
	inactive := User{ID: "u2"}
	inactive.Disable(opNow)
	if !errors.Is(inactive.CheckCanLogin(), ErrAccountDisabled) {
		t.Errorf("a disabled inactive account says %v, want disabled", inactive.CheckCanLogin())
	}
	u.Enable(opNow.Add(2 * time.Hour))
	if err := u.CheckCanLogin(); err != nil || u.Disabled() || !u.UpdatedAt.Equal(opNow.Add(2*time.Hour)) {
		t.Errorf("an enabled account: %v, disabled %v, updated %v", err, u.Disabled(), u.UpdatedAt)
	}
}

func TestMarkVerified(t *testing.T) {
	u := User{ID: "u1", Activation: OneTimeCode{CodeHash: []byte{1}, ExpiresAt: opNow.Add(time.Hour)}}
	u.MarkVerified(opNow)
	if !u.Active || !u.ActivatedAt.Equal(opNow) || len(u.Activation.CodeHash) != 0 {
		t.Errorf("after MarkVerified: active %v, activated %v, code %v", u.Active, u.ActivatedAt, u.Activation.CodeHash)
	}
	u.MarkVerified(opNow.Add(time.Hour))
	if !u.ActivatedAt.Equal(opNow) {
		t.Errorf("marking an active account moved its activation to %v", u.ActivatedAt)
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		name, first, last   string
		wantFirst, wantLast string
		wantFields          []string
	}{
		{"both", " Ada ", "Lovelace", "Ada", "Lovelace", nil},
		{"first only", "Ada", "", "Ada", "User", nil},
		{"neither", "", "", "Astro", "User", nil},
		{"control character", "A\x00da", "", "Astro", "User", []string{"first_name"}},
		{"both bad", strings.Repeat("x", 101), "\u202eevil", "Astro", "User", []string{"first_name", "last_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := activeUser()
			err := u.Rename(tt.first, tt.last, opNow)
			if got := fieldsOf(err); strings.Join(got, ",") != strings.Join(tt.wantFields, ",") {
				t.Fatalf("Rename error fields = %v (%v), want %v", got, err, tt.wantFields)
			}
			if u.FirstName != tt.wantFirst || u.LastName != tt.wantLast {
				t.Errorf("names = %q %q, want %q %q", u.FirstName, u.LastName, tt.wantFirst, tt.wantLast)
			}
		})
	}
}

func fieldsOf(err error) []string {
	var de *Error
	if !errors.As(err, &de) {
		return nil
	}
	var fields []string
	for _, f := range de.Fields {
		fields = append(fields, f.Field)
	}
	return fields
}

func TestAdminKeys(t *testing.T) {
	key, secret, err := NewAdminKey("deploy-bot", bytes.NewReader(bytes.Repeat([]byte{7}, 32)), opNow)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, AdminKeyPrefix) || len(secret) < len(AdminKeyPrefix)+40 || bytes.Contains(key.Hash, []byte(secret)) {
		t.Errorf("secret %q, hash %x: want a prefixed 256-bit key stored only as its hash", secret, key.Hash)
	}
	other, otherSecret, _ := NewAdminKey("ops", bytes.NewReader(bytes.Repeat([]byte{9}, 32)), opNow)
	revoked := other
	revoked.RevokedAt = opNow
	tests := []struct {
		name      string
		keys      []AdminKey
		presented string
		want      string // the matching key's name, or "" for none
	}{
		{"the key", []AdminKey{other, key}, secret, "deploy-bot"},
		{"the other key", []AdminKey{other, key}, otherSecret, "ops"},
		{"a revoked key", []AdminKey{revoked, key}, otherSecret, ""},
		{"a wrong key", []AdminKey{other, key}, secret + "x", ""},
		{"no keys at all", nil, secret, ""},
		{"empty", []AdminKey{key}, "", ""},
		{"the hash itself", []AdminKey{key}, string(key.Hash), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MatchAdminKey(tt.keys, tt.presented)
			if ok != (tt.want != "") || got.Name != tt.want {
				t.Errorf("MatchAdminKey = %q, %v; want %q", got.Name, ok, tt.want)
			}
		})
	}
	for _, name := range []string{"", "Deploy", "has space", "ünïcode", strings.Repeat("a", 65), "a/b"} {
		if _, _, err := NewAdminKey(name, bytes.NewReader(make([]byte, 32)), opNow); !errors.Is(err, ErrValidation) {
			t.Errorf("NewAdminKey(%q) = %v, want a validation error", name, err)
		}
	}
}

func TestAuditEventKeepsOnlyPrintableBoundedText(t *testing.T) {
	e := NewAuditEvent(EventLoginFailed, opNow, Client{IP: "192.0.2.1", UserAgent: "curl\x00/8"}).
		Naming("  " + strings.Repeat("é", 200) + "\r\n").Because(ReasonWrongPassword)
	if len(e.Email) > MaxEmailBytes || strings.ContainsAny(e.Email, "\r\n\x00") || !strings.HasPrefix(e.Email, "é") {
		t.Errorf("email kept as %q (%d bytes)", e.Email, len(e.Email))
	}
	if strings.Contains(e.UserAgent, "\x00") || e.Reason != ReasonWrongPassword || e.Type != EventLoginFailed {
		t.Errorf("event = %+v", e)
	}
}
