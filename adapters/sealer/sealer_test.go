package sealer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"authapi/ports"
)

func TestSealOpens(t *testing.T) {
	s, err := New(bytes.Repeat([]byte{1}, 32), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("an authenticator secret")
	sealed, err := s.Seal(secret, []byte("user 1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed secret holds the plaintext")
	}
	again, _ := s.Seal(secret, []byte("user 1"))
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one secret are equal: the nonce repeats")
	}
	opened, err := s.Open(sealed, []byte("user 1"))
	if err != nil || !bytes.Equal(opened, secret) {
		t.Fatalf("Open = %q, %v; want the secret", opened, err)
	}
	other, _ := New(bytes.Repeat([]byte{2}, 32), rand.Reader)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for name, tt := range map[string]struct {
		s       *Sealer
		sealed  []byte
		context string
	}{
		"another context": {s, sealed, "user 2"},
		"another key":     {other, sealed, "user 1"},
		"tampered":        {s, flipped, "user 1"},
		"too short":       {s, sealed[:10], "user 1"},
		"empty":           {s, nil, "user 1"},
	} {
		if _, err := tt.s.Open(tt.sealed, []byte(tt.context)); !errors.Is(err, ports.ErrSealBroken) {
			t.Errorf("%s: Open = %v, want ErrSealBroken", name, err)
		}
	}
	if _, err := New(make([]byte, 16), rand.Reader); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}
