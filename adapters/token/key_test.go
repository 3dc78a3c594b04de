package token_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/adapters/token"
)

// keyLifetime is the longest a token of the tests' Tokens can be valid.
const keyLifetime = refreshTTL

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal PKCS#8: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// dated prefixes a PEM block with its date line, as the key file holds it.
func dated(at time.Time, block []byte) []byte {
	return append([]byte("Created: "+at.UTC().Format(time.RFC3339)+"\n"), block...)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}

func kidOf(t *testing.T, k token.Key) string {
	t.Helper()
	kid, err := token.Thumbprint(&k.Private.PublicKey)
	if err != nil {
		t.Fatalf("Thumbprint: %v", err)
	}
	return kid
}

// assertKeyFile checks what every write of the key file must leave: mode
// 0600, no temp files beside it, and content that parses.
func assertKeyFile(t *testing.T, path string) []token.Key {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat key file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temp files)", len(entries))
	}
	keys, err := token.ReadKeys(path)
	if err != nil {
		t.Fatalf("ReadKeys: %v", err)
	}
	return keys
}

func assertSameKeys(t *testing.T, got, want []token.Key) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Private.Equal(want[i].Private) || !got[i].Created.Equal(want[i].Created) {
			t.Errorf("key %d = (%s, %v), want (%s, %v)", i+1,
				kidOf(t, got[i]), got[i].Created, kidOf(t, want[i]), want[i].Created)
		}
	}
}

func TestLoadOrCreateKeysCreatesThenLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	at := now.Add(700 * time.Millisecond)

	first, created, err := token.LoadOrCreateKeys(path, at, rand.Reader)
	if err != nil {
		t.Fatalf("first LoadOrCreateKeys: %v", err)
	}
	if !created {
		t.Error("first call: created = false, want true")
	}
	if len(first) != 1 {
		t.Fatalf("created %d keys, want 1", len(first))
	}
	if first[0].Private.Curve != elliptic.P256() {
		t.Errorf("curve = %s, want P-256", first[0].Private.Curve.Params().Name)
	}
	if !first[0].Created.Equal(now) {
		t.Errorf("Created = %v, want %v (whole seconds)", first[0].Created, now)
	}
	assertSameKeys(t, assertKeyFile(t, path), first)

	// The file must stay a standard PKCS#8 PEM that other tools can read:
	// the date is text before the block, not a PEM header.
	data := readFile(t, path)
	if want := "Created: 2030-01-02T03:04:05Z\n-----BEGIN PRIVATE KEY-----\n"; !strings.HasPrefix(string(data), want) {
		t.Errorf("key file starts %q, want %q", data[:min(len(data), len(want))], want)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(block.Headers) != 0 {
		t.Fatalf("key file is not a plain PEM PRIVATE KEY block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse stored key: %v", err)
	}
	if !first[0].Private.Equal(parsed) {
		t.Error("stored key differs from returned key")
	}

	second, created, err := token.LoadOrCreateKeys(path, at.Add(time.Hour), rand.Reader)
	if err != nil {
		t.Fatalf("second LoadOrCreateKeys: %v", err)
	}
	if created {
		t.Error("second call: created = true, want false")
	}
	assertSameKeys(t, second, first)
	if !bytes.Equal(readFile(t, path), data) {
		t.Error("second call rewrote the key file")
	}
}

// Files written before keys were dated hold one bare block; they must keep
// loading, with an unknown creation time, and must not be rewritten.
func TestLoadOrCreateKeysLoadsUndatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	want := newKey(t, elliptic.P256())
	content := pkcs8PEM(t, want)
	writeFile(t, path, content)

	got, created, err := token.LoadOrCreateKeys(path, now, rand.Reader)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys: %v", err)
	}
	if created {
		t.Error("created = true for an existing file")
	}
	assertSameKeys(t, got, []token.Key{{Private: want}})
	if !bytes.Equal(readFile(t, path), content) {
		t.Error("the existing file was modified")
	}
}

func TestReadKeysSeveralKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	k1, k2, k3 := newKey(t, elliptic.P256()), newKey(t, elliptic.P256()), newKey(t, elliptic.P256())
	t2, t3 := now.Add(time.Hour), now.Add(48*time.Hour)
	var content []byte
	content = append(content, pkcs8PEM(t, k1)...)
	content = append(content, "\n"...)
	content = append(content, dated(t2, pkcs8PEM(t, k2))...)
	content = append(content, dated(t3, pkcs8PEM(t, k3))...)
	writeFile(t, path, content)

	got, err := token.ReadKeys(path)
	if err != nil {
		t.Fatalf("ReadKeys: %v", err)
	}
	assertSameKeys(t, got, []token.Key{{Private: k1}, {Private: k2, Created: t2}, {Private: k3, Created: t3}})
}

func TestLoadOrCreateKeysRejectsUnusableFiles(t *testing.T) {
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
	good := pkcs8PEM(t, p256)
	other := pkcs8PEM(t, newKey(t, elliptic.P256()))
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"not PEM", []byte("this is not a key\n"), "unexpected text"},
		{"empty file", nil, "no PEM block"},
		{"RSA key", pkcs8PEM(t, rsaKey), "*rsa.PrivateKey"},
		{"Ed25519 key", pkcs8PEM(t, edKey), "ed25519.PrivateKey"},
		{"P-384 key", pkcs8PEM(t, newKey(t, elliptic.P384())), "P-384"},
		{"SEC1 EC key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), `"EC PRIVATE KEY"`},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), `"PUBLIC KEY"`},
		{"corrupt DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "parse PKCS#8"},
		{"encrypted PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "encrypted"},
		{"block cut short", good[:len(good)-20], "key 1: damaged PEM block"},
		{"second key bad", join(good, dated(now, pkcs8PEM(t, rsaKey))), "key 2: "},
		{"second key undated", join(good, other), "key 2 has no Created: line"},
		{"keys out of order", join(dated(now, good), dated(now.Add(-time.Second), other)), "key 2 is dated before key 1"},
		{"same key twice", join(dated(now, good), dated(now, good)), "key 2 repeats key 1"},
		{"date not RFC 3339", append([]byte("Created: yesterday\n"), good...), "not an RFC 3339 time"},
		{"two date lines", append([]byte("Created: 2030-01-01T00:00:00Z\n"), dated(now, good)...), "more than one"},
		{"comment before the key", append([]byte("# production key\n"), good...), "unexpected text before"},
		{"text after the last key", join(good, []byte("garbage\n")), "unexpected text after key 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			writeFile(t, path, tt.content)

			keys, created, err := token.LoadOrCreateKeys(path, now, rand.Reader)
			if err == nil {
				t.Fatalf("LoadOrCreateKeys returned %d keys (created %v), want an error", len(keys), created)
			}
			if keys != nil || created {
				t.Errorf("keys = %v, created = %v; want nil, false on error", keys, created)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantErr)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Error("a parse error matches fs.ErrNotExist")
			}
			if !bytes.Equal(readFile(t, path), tt.content) {
				t.Error("the existing file was modified")
			}
		})
	}
}

func TestLoadOrCreateKeysUnreadablePath(t *testing.T) {
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
			keys, created, err := token.LoadOrCreateKeys(tt.path, now, rand.Reader)
			if err == nil {
				t.Fatalf("LoadOrCreateKeys returned %d keys (created %v), want an error", len(keys), created)
			}
			if keys != nil || created {
				t.Errorf("keys = %v, created = %v; want nil, false on error", keys, created)
			}
		})
	}
}

// Processes that start together must end up with one key, created once.
func TestLoadOrCreateKeysConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	const n = 8
	keys := make([][]token.Key, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = token.LoadOrCreateKeys(path, now, rand.Reader) })
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
		assertSameKeys(t, keys[i], keys[0])
	}
	if creators != 1 {
		t.Errorf("%d calls reported creating the key, want exactly 1", creators)
	}
	assertSameKeys(t, assertKeyFile(t, path), keys[0])
}

func TestRotateKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	original, _, err := token.LoadOrCreateKeys(path, now, rand.Reader)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys: %v", err)
	}
	// An administrator may have loosened the mode; rotation restores 0600.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatalf("chmod: %v", err)
	}

	t1 := now.Add(24 * time.Hour)
	added, dropped, err := token.RotateKeys(path, t1, keyLifetime, rand.Reader)
	if err != nil {
		t.Fatalf("first RotateKeys: %v", err)
	}
	if len(dropped) != 0 {
		t.Errorf("first rotation dropped %d keys, want 0", len(dropped))
	}
	if !added.Created.Equal(t1) {
		t.Errorf("added key Created = %v, want %v", added.Created, t1)
	}
	if added.Private.Equal(original[0].Private) {
		t.Fatal("rotation added the existing key again")
	}
	afterFirst := assertKeyFile(t, path)
	assertSameKeys(t, afterFirst, []token.Key{original[0], added})

	// Once the first key's tokens have all expired, the next rotation drops it.
	t2 := t1.Add(keyLifetime)
	added2, dropped, err := token.RotateKeys(path, t2, keyLifetime, rand.Reader)
	if err != nil {
		t.Fatalf("second RotateKeys: %v", err)
	}
	assertSameKeys(t, dropped, original)
	assertSameKeys(t, assertKeyFile(t, path), []token.Key{added, added2})
}

// A key that is still verifying at the time of a rotation is kept.
func TestRotateKeysKeepsVerifyingKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	original, _, err := token.LoadOrCreateKeys(path, now, rand.Reader)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys: %v", err)
	}
	t1 := now.Add(time.Hour)
	first, _, err := token.RotateKeys(path, t1, keyLifetime, rand.Reader)
	if err != nil {
		t.Fatalf("first RotateKeys: %v", err)
	}
	second, dropped, err := token.RotateKeys(path, t1.Add(keyLifetime-time.Second), keyLifetime, rand.Reader)
	if err != nil {
		t.Fatalf("second RotateKeys: %v", err)
	}
	if len(dropped) != 0 {
		t.Errorf("dropped %d keys one second before retirement, want 0", len(dropped))
	}
	assertSameKeys(t, assertKeyFile(t, path), []token.Key{original[0], first, second})
}

func TestRotateKeysUndatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	legacy := newKey(t, elliptic.P256())
	writeFile(t, path, pkcs8PEM(t, legacy))

	added, _, err := token.RotateKeys(path, now, keyLifetime, rand.Reader)
	if err != nil {
		t.Fatalf("RotateKeys: %v", err)
	}
	assertSameKeys(t, assertKeyFile(t, path), []token.Key{{Private: legacy}, added})
}

func TestRotateKeysErrors(t *testing.T) {
	valid := dated(now, pkcs8PEM(t, newKey(t, elliptic.P256())))
	tests := []struct {
		name     string
		content  []byte // nil: no file
		at       time.Time
		lifetime time.Duration
		wantErr  string
	}{
		{"no key file", nil, now, keyLifetime, "no such file"},
		{"unusable key file", []byte("not a key\n"), now, keyLifetime, "unexpected text"},
		{"clock behind the newest key", valid, now.Add(-time.Minute), keyLifetime, "check the clock"},
		{"no lifetime", valid, now, 0, "lifetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if tt.content != nil {
				writeFile(t, path, tt.content)
			}
			_, _, err := token.RotateKeys(path, tt.at, tt.lifetime, rand.Reader)
			if err == nil {
				t.Fatal("RotateKeys succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantErr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("read dir: %v", err)
			}
			if tt.content == nil {
				if len(entries) != 0 {
					t.Errorf("directory holds %d entries, want none (no key file created)", len(entries))
				}
				return
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the key file", len(entries))
			}
			if !bytes.Equal(readFile(t, path), tt.content) {
				t.Error("the key file was modified")
			}
		})
	}
}

func TestInspectAndPrune(t *testing.T) {
	k1 := token.Key{Private: newKey(t, elliptic.P256())} // undated: from before rotation
	k2 := token.Key{Private: newKey(t, elliptic.P256()), Created: now}
	k3 := token.Key{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour)}
	keys := []token.Key{k1, k2, k3}
	retire1, retire2 := now.Add(keyLifetime), now.Add(time.Hour+keyLifetime)

	tests := []struct {
		name        string
		at          time.Time
		wantStates  []token.KeyState
		wantRetired int
	}{
		{"right after the rotations", now.Add(time.Hour), []token.KeyState{token.KeyVerifying, token.KeyVerifying, token.KeySigning}, 0},
		{"last second of the oldest key", retire1.Add(-time.Second), []token.KeyState{token.KeyVerifying, token.KeyVerifying, token.KeySigning}, 0},
		{"oldest key retires", retire1, []token.KeyState{token.KeyRetired, token.KeyVerifying, token.KeySigning}, 1},
		{"both older keys retired", retire2, []token.KeyState{token.KeyRetired, token.KeyRetired, token.KeySigning}, 2},
		{"signing key never retires", retire2.Add(100 * 365 * 24 * time.Hour), []token.KeyState{token.KeyRetired, token.KeyRetired, token.KeySigning}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := token.Inspect(keys, tt.at, keyLifetime)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			want := []token.KeyInfo{
				{ID: kidOf(t, k1), State: tt.wantStates[0], RetiresAt: retire1},
				{ID: kidOf(t, k2), Created: now, State: tt.wantStates[1], RetiresAt: retire2},
				{ID: kidOf(t, k3), Created: now.Add(time.Hour), State: tt.wantStates[2]},
			}
			if len(infos) != len(want) {
				t.Fatalf("Inspect returned %d infos, want %d", len(infos), len(want))
			}
			for i := range want {
				if got := infos[i]; got.ID != want[i].ID || !got.Created.Equal(want[i].Created) ||
					got.State != want[i].State || !got.RetiresAt.Equal(want[i].RetiresAt) {
					t.Errorf("key %d = %+v, want %+v", i+1, got, want[i])
				}
			}

			kept, retired := token.Prune(keys, tt.at, keyLifetime)
			assertSameKeys(t, retired, keys[:tt.wantRetired])
			assertSameKeys(t, kept, keys[tt.wantRetired:])
		})
	}
}

func TestKeyStateString(t *testing.T) {
	tests := []struct {
		state token.KeyState
		want  string
	}{
		{token.KeySigning, "signing"},
		{token.KeyVerifying, "verifying"},
		{token.KeyRetired, "retired"},
		{token.KeyState(0), "KeyState(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.state.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
