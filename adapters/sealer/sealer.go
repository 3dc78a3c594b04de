// Package sealer encrypts small secrets at rest with AES-256-GCM, under a
// key that the service derives from its server secret and that never enters
// the database: a copy of the database alone opens nothing.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"

	"authapi/ports"
)

var _ ports.Sealer = (*Sealer)(nil)

// Sealer seals and opens secrets under one key.
type Sealer struct {
	aead   cipher.AEAD
	random io.Reader
}

// New returns a sealer under key (32 bytes), drawing nonces from random.
func New(key []byte, random io.Reader) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealer: the key has %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, random: random}, nil
}

// Seal encrypts plaintext, authenticating context with it, and returns
// the nonce followed by the ciphertext. A fresh random nonce per seal keeps
// well within GCM's limits for the few secrets a service seals.
func (s *Sealer) Seal(plaintext, context []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("sealer: draw a nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, context), nil
}

// Open decrypts what Seal made with the same key and context, or returns
// ports.ErrSealBroken.
func (s *Sealer) Open(sealed, context []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ports.ErrSealBroken
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], context)
	if err != nil {
		return nil, ports.ErrSealBroken
	}
	return plain, nil
}
