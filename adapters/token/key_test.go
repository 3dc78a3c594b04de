package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"authapi/adapters/token"
)

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal PKCS#8: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func TestLoadOrCreateKeyCreatesThenLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")

	first, created, err := token.LoadOrCreateKey(path, rand.Reader)
	if err != nil {
		t.Fatalf("first LoadOrCreateKey: %v", err)
	}
	if !created {
		t.Error("first call: created = false, want true")
	}
	if first.Curve != elliptic.P256() {
		t.Errorf("curve = %s, want P-256", first.Curve.Params().Name)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat key file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (no temp files)", len(entries))
	}

	// The file must be a standard PKCS#8 PEM that other tools can read.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read key file: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PEM PRIVATE KEY block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse stored key: %v", err)
	}
	if !first.Equal(parsed) {
		t.Error("stored key differs from returned key")
	}

	second, created, err := token.LoadOrCreateKey(path, rand.Reader)
	if err != nil {
		t.Fatalf("second LoadOrCreateKey: %v", err)
	}
	if created {
		t.Error("second call: created = true, want false")
	}
	if !first.Equal(second) {
		t.Error("second call returned a different key")
	}
	if got, want := newTokens(t, second).KeyID(), newTokens(t, first).KeyID(); got != want {
		t.Errorf("kid after reload = %q, want %q", got, want)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read key file: %v", err)
	}
	if !bytes.Equal(after, data) {
		t.Error("second call rewrote the key file")
	}
}

func TestLoadOrCreateKeyLoadsExistingKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	want := newKey(t, elliptic.P256())
	writeFile(t, path, pkcs8PEM(t, want))

	got, created, err := token.LoadOrCreateKey(path, rand.Reader)
	if err != nil {
		t.Fatalf("LoadOrCreateKey: %v", err)
	}
	if created {
		t.Error("created = true for an existing file")
	}
	if !want.Equal(got) {
		t.Error("loaded key differs from the stored one")
	}
}

func TestLoadOrCreateKeyRejectsUnusableFiles(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate Ed25519 key: %v", err)
	}
	p256 := newKey(t, elliptic.P256())
	sec1, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatalf("marshal SEC1: %v", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}

	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"not PEM", []byte("this is not a key\n"), "no PEM block"},
		{"empty file", nil, "no PEM block"},
		{"RSA key", pkcs8PEM(t, rsaKey), "*rsa.PrivateKey"},
		{"Ed25519 key", pkcs8PEM(t, edKey), "ed25519.PrivateKey"},
		{"P-384 key", pkcs8PEM(t, newKey(t, elliptic.P384())), "P-384"},
		{"SEC1 EC key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), `"EC PRIVATE KEY"`},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), `"PUBLIC KEY"`},
		{"corrupt DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "parse PKCS#8"},
		{"encrypted PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			writeFile(t, path, tt.content)

			key, created, err := token.LoadOrCreateKey(path, rand.Reader)
			if err == nil {
				t.Fatalf("LoadOrCreateKey returned a key (created %v), want an error", created)
			}
			if key != nil || created {
				t.Errorf("key = %v, created = %v; want nil, false on error", key, created)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantErr)
			}
			got, readErr := os.ReadFile(path)
			if readErr != nil {
				t.Fatalf("read key file: %v", readErr)
			}
			if !bytes.Equal(got, tt.content) {
				t.Error("the existing file was modified")
			}
		})
	}
}

func TestLoadOrCreateKeyUnreadablePath(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"path is a directory", dir},
		{"parent directory missing", filepath.Join(dir, "missing", "signing.pem")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, created, err := token.LoadOrCreateKey(tt.path, rand.Reader)
			if err == nil {
				t.Fatalf("LoadOrCreateKey returned a key (created %v), want an error", created)
			}
			if key != nil || created {
				t.Errorf("key = %v, created = %v; want nil, false on error", key, created)
			}
		})
	}
}

// Processes that start together must end up with one key, created once.
func TestLoadOrCreateKeyConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	const n = 8
	keys := make([]*ecdsa.PrivateKey, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = token.LoadOrCreateKey(path, rand.Reader) })
	}
	wg.Wait()

	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if !keys[i].Equal(keys[0]) {
			t.Errorf("call %d returned a different key", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d calls reported creating the key, want exactly 1", creators)
	}
	stored, _, err := token.LoadOrCreateKey(path, rand.Reader)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !stored.Equal(keys[0]) {
		t.Error("stored key differs from the returned ones")
	}
}
