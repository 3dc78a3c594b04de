package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"
)

// AdminKeyPrefix starts every admin API key, so that one found in a log or
// a repository is recognisable, and never mistaken for a user's token.
const AdminKeyPrefix = "authapi_admin_"

// adminKeyBytes is the randomness of a key: 256 bits, beyond guessing, so
// that storing a plain SHA-256 of it is as good as a slow hash.
const adminKeyBytes = 32

// MaxAdminKeyNameLength bounds a key's name.
const MaxAdminKeyNameLength = 64

// AdminKey is an operator's key to the admin API. The store keeps its name
// and the SHA-256 of the key, never the key itself.
type AdminKey struct {
	Name      string
	Hash      []byte
	CreatedAt time.Time
	// RevokedAt is when the key was revoked; zero while it works.
	RevokedAt time.Time
}

// Revoked reports whether the key was revoked.
func (k AdminKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// NewAdminKey makes a key named name from random and returns it with the
// secret to hand the operator, once.
func NewAdminKey(name string, random io.Reader, now time.Time) (AdminKey, string, error) {
	if err := CheckAdminKeyName(name); err != nil {
		return AdminKey{}, "", err
	}
	raw := make([]byte, adminKeyBytes)
	if _, err := io.ReadFull(random, raw); err != nil {
		return AdminKey{}, "", fmt.Errorf("generate admin key: %w", err)
	}
	secret := AdminKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	return AdminKey{Name: name, Hash: hashAdminKey(secret), CreatedAt: now}, secret, nil
}

// CheckAdminKeyName accepts names of lower-case letters, digits, '.', '_'
// and '-', such as "deploy-bot": they appear in the audit log and on command
// lines.
func CheckAdminKeyName(name string) error {
	var v Validation
	switch {
	case name == "":
		v.Add("name", "is required")
	case len(name) > MaxAdminKeyNameLength:
		v.Add("name", fmt.Sprintf("must be at most %d characters", MaxAdminKeyNameLength))
	case strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "":
		v.Add("name", "may hold only lower-case letters, digits, '.', '_' and '-'")
	}
	return v.Err()
}

func hashAdminKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// MatchAdminKey finds the key that presented is, among keys, and reports
// whether it may be used: found and not revoked. It compares the presented
// key's hash with every key's, in constant time and without stopping at a
// match, so that the time it takes tells nothing of whether a key exists or
// was revoked.
func MatchAdminKey(keys []AdminKey, presented string) (AdminKey, bool) {
	hash := hashAdminKey(presented)
	var (
		found AdminKey
		match int
	)
	for _, k := range keys {
		if subtle.ConstantTimeCompare(k.Hash, hash) == 1 {
			found, match = k, 1
		}
	}
	if match == 0 || found.Revoked() || !strings.HasPrefix(presented, AdminKeyPrefix) {
		return AdminKey{}, false
	}
	return found, true
}
