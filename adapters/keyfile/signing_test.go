package keyfile_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authapi/adapters/keyfile"
	"authapi/ports"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal PKCS#8: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// dated prefixes a PEM block with a date line, as the key file holds it.
func dated(label string, at time.Time, block []byte) []byte {
	return append([]byte(label+" "+at.UTC().Format(time.RFC3339)+"\n"), block...)
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// writeFile writes data with exactly mode perm, whatever the umask.
func writeFile(t *testing.T, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
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

// assertSameKeys compares whole keys: the private keys by value, every other
// field with ==, so that a field added to ports.SigningKey is compared too.
// Times must be in UTC without a monotonic reading, as the package returns
// them.
func assertSameKeys(t *testing.T, got, want []ports.SigningKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Private.Equal(w.Private) {
			t.Errorf("key %d: another private key than the one expected", i+1)
		}
		g.Private, w.Private = nil, nil
		if g != w {
			t.Errorf("key %d = %+v, want %+v", i+1, g, w)
		}
	}
}

// assertKeyFile checks what every write of the key file must leave: mode
// 0600, no temp files beside it, and content that parses. The store's lock
// file may sit beside it: it holds nothing and outlives every update.
func assertKeyFile(t *testing.T, path string) []ports.SigningKey {
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
	for _, e := range entries {
		if name := e.Name(); name != filepath.Base(path) && name != filepath.Base(path)+".lock" {
			t.Errorf("directory holds %q beside the key file, want no temp files", name)
		}
	}
	keys, err := keyfile.ReadSigningKeys(path)
	if err != nil {
		t.Fatalf("ReadSigningKeys: %v", err)
	}
	return keys
}

// firstStart does what the service does at start: it reads the keys and, if
// there are none, creates the first one, created and signing from at,
// through an update that adds it only if the set it is given is still
// empty, so that processes starting together agree on one key. created
// reports whether this call's key is the one stored.
func firstStart(ctx context.Context, store ports.KeyStore, at time.Time) (keys []ports.SigningKey, created bool, err error) {
	keys, err = store.SigningKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, false, err
	}
	err = store.UpdateSigningKeys(ctx, func(current []ports.SigningKey) ([]ports.SigningKey, error) {
		if len(current) > 0 {
			keys = current
			return current, nil
		}
		key, err := keyfile.GenerateSigningKey(rand.Reader, at, at)
		if err != nil {
			return nil, err
		}
		keys, created = []ports.SigningKey{key}, true
		return keys, nil
	})
	if err != nil {
		return nil, false, err
	}
	return keys, created, nil
}

// errKeep refuses an update, so that the set stays as it was.
var errKeep = errors.New("keep the set as it is")

// reader is one way the key file is read, returning the keys it saw.
type reader struct {
	name string
	read func(t *testing.T, path string) ([]ports.SigningKey, error)
}

// readers are every way the key file is read: directly, through the store,
// by the store's updates (which are given what they read), and by a start,
// which must load an existing file rather than create a key over it. None
// of them changes an existing file.
var readers = []reader{
	{"ReadSigningKeys", func(_ *testing.T, path string) ([]ports.SigningKey, error) {
		return keyfile.ReadSigningKeys(path)
	}},
	{"Store.SigningKeys", func(t *testing.T, path string) ([]ports.SigningKey, error) {
		return keyfile.NewStore(path).SigningKeys(t.Context())
	}},
	{"Store.UpdateSigningKeys", func(t *testing.T, path string) ([]ports.SigningKey, error) {
		var given []ports.SigningKey
		err := keyfile.NewStore(path).UpdateSigningKeys(t.Context(), func(current []ports.SigningKey) ([]ports.SigningKey, error) {
			given = current
			return nil, errKeep
		})
		if errors.Is(err, errKeep) {
			err = nil
		}
		// On an error, given is nil unless the update ran anyway.
		return given, err
	}},
	{"first start", func(t *testing.T, path string) ([]ports.SigningKey, error) {
		keys, created, err := firstStart(t.Context(), keyfile.NewStore(path), now)
		if created {
			t.Errorf("first start created a key over an existing file")
		}
		return keys, err
	}},
}

func TestGenerateSigningKey(t *testing.T) {
	paris := time.FixedZone("Paris", 3600)
	tests := []struct {
		name                 string
		created, activeFrom  time.Time
		wantCreated, wantAct time.Time
	}{
		{"signs from its creation", now.Add(700 * time.Millisecond), now.Add(700 * time.Millisecond), now, now},
		{"signs later", now, now.Add(time.Hour), now, now.Add(time.Hour)},
		{"zero activation means its creation", now, time.Time{}, now, now},
		{"times in another zone", now.In(paris), now.Add(time.Hour).In(paris), now, now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := keyfile.GenerateSigningKey(rand.Reader, tt.created, tt.activeFrom)
			if err != nil {
				t.Fatalf("GenerateSigningKey: %v", err)
			}
			if key.Private == nil || key.Private.Curve != elliptic.P256() {
				t.Fatalf("key is not a P-256 key: %+v", key.Private)
			}
			want := ports.SigningKey{Private: key.Private, Created: tt.wantCreated, ActiveFrom: tt.wantAct}
			assertSameKeys(t, []ports.SigningKey{key}, []ports.SigningKey{want})
		})
	}

	if _, err := keyfile.GenerateSigningKey(rand.Reader, now, now.Add(-time.Second)); err == nil ||
		!strings.Contains(err.Error(), "before its creation") {
		t.Errorf("a key signing before its creation: err = %v, want a refusal", err)
	}

	first, err := keyfile.GenerateSigningKey(rand.Reader, now, now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := keyfile.GenerateSigningKey(rand.Reader, now, now)
	if err != nil {
		t.Fatal(err)
	}
	if first.Private.Equal(second.Private) {
		t.Error("two calls generated the same key")
	}
}

// A start with no key file creates the first key through the store; later
// starts load it and leave the file as it is.
func TestStoreCreatesTheFirstKeyOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	store := keyfile.NewStore(path)
	at := now.Add(700 * time.Millisecond)

	// A missing file is an error for ReadSigningKeys, so that a wrong path
	// is not taken for an empty set, but an empty set for the store.
	if _, err := keyfile.ReadSigningKeys(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSigningKeys of a missing file: err = %v, want one matching fs.ErrNotExist", err)
	}
	if keys, err := store.SigningKeys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys of a missing file = %d keys, %v; want an empty set", len(keys), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("reading created the key file (stat: %v)", err)
	}

	first, created, err := firstStart(t.Context(), store, at)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if !created {
		t.Error("first start: created = false, want true")
	}
	if len(first) != 1 {
		t.Fatalf("created %d keys, want 1", len(first))
	}
	if first[0].Private.Curve != elliptic.P256() {
		t.Errorf("curve = %s, want P-256", first[0].Private.Curve.Params().Name)
	}
	assertSameKeys(t, first, []ports.SigningKey{{Private: first[0].Private, Created: now, ActiveFrom: now}})
	assertSameKeys(t, assertKeyFile(t, path), first)
	stored, err := store.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys after the first start: %v", err)
	}
	assertSameKeys(t, stored, first)

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

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second start, as a restart an hour later, by a store of its own.
	second, created, err := firstStart(t.Context(), keyfile.NewStore(path), at.Add(time.Hour))
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if created {
		t.Error("second start: created = true, want false")
	}
	assertSameKeys(t, second, first)
	if !bytes.Equal(readFile(t, path), data) {
		t.Error("second start changed the key file")
	}
	// Not even rewritten with the same content: the file is the same one.
	if after, err := os.Stat(path); err != nil || !os.SameFile(before, after) {
		t.Errorf("second start replaced the key file (stat: %v)", err)
	}
}

// Files from before keys were dated (one bare block) or before they had an
// activation time (Created lines only) must keep loading, unchanged.
func TestReadSigningKeysFormats(t *testing.T) {
	k1, k2, k3 := newKey(t, elliptic.P256()), newKey(t, elliptic.P256()), newKey(t, elliptic.P256())
	t2, t3 := now.Add(time.Hour), now.Add(48*time.Hour)
	tests := []struct {
		name    string
		content []byte
		want    []ports.SigningKey
	}{
		{"one bare block", pkcs8PEM(t, k1), []ports.SigningKey{{Private: k1}}},
		{"Created lines only",
			join(pkcs8PEM(t, k1), []byte("\n"), dated("Created:", t2, pkcs8PEM(t, k2)), dated("Created:", t3, pkcs8PEM(t, k3))),
			[]ports.SigningKey{{Private: k1}, {Private: k2, Created: t2, ActiveFrom: t2}, {Private: k3, Created: t3, ActiveFrom: t3}}},
		{"a next key",
			join(dated("Created:", now, pkcs8PEM(t, k1)), dated("Created:", t2, dated("Active-From:", t3, pkcs8PEM(t, k2)))),
			[]ports.SigningKey{{Private: k1, Created: now, ActiveFrom: now}, {Private: k2, Created: t2, ActiveFrom: t3}}},
		{"Active-From before Created",
			dated("Active-From:", t2, dated("Created:", now, pkcs8PEM(t, k1))),
			[]ports.SigningKey{{Private: k1, Created: now, ActiveFrom: t2}}},
		{"Active-From equal to Created",
			dated("Created:", now, dated("Active-From:", now, pkcs8PEM(t, k1))),
			[]ports.SigningKey{{Private: k1, Created: now, ActiveFrom: now}}},
		{"undated oldest key signing from a time",
			join(dated("Active-From:", now, pkcs8PEM(t, k1)), dated("Created:", t2, pkcs8PEM(t, k2))),
			[]ports.SigningKey{{Private: k1, ActiveFrom: now}, {Private: k2, Created: t2, ActiveFrom: t2}}},
		{"times with an offset",
			[]byte("Created: 2030-01-02T04:04:05+01:00\n" + string(pkcs8PEM(t, k1))),
			[]ports.SigningKey{{Private: k1, Created: now, ActiveFrom: now}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			writeFile(t, path, tt.content, 0o600)

			for _, r := range readers {
				t.Run(r.name, func(t *testing.T) {
					got, err := r.read(t, path)
					if err != nil {
						t.Fatalf("%s: %v", r.name, err)
					}
					assertSameKeys(t, got, tt.want)
					if !bytes.Equal(readFile(t, path), tt.content) {
						t.Error("the existing file was modified")
					}
				})
			}
		})
	}
}

func TestReadSigningKeysRejectsUnusableFiles(t *testing.T) {
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
	created := func(at time.Time, block []byte) []byte { return dated("Created:", at, block) }
	active := func(at time.Time, block []byte) []byte { return dated("Active-From:", at, block) }

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
		{"second key bad", join(good, created(now, pkcs8PEM(t, rsaKey))), "key 2: "},
		{"second key undated", join(good, other), "key 2 has no Created: line"},
		{"second key with only Active-From", join(good, active(now, other)), "key 2 has no Created: line"},
		{"keys out of order", join(created(now, good), created(now.Add(-time.Second), other)), "key 2 is dated before key 1"},
		{"same key twice", join(created(now, good), created(now, good)), "key 2 repeats key 1"},
		{"Created not RFC 3339", append([]byte("Created: yesterday\n"), good...), "Created: is not an RFC 3339 time"},
		{"Active-From not RFC 3339", append([]byte("Active-From: soon\n"), good...), "Active-From: is not an RFC 3339 time"},
		{"two Created lines", append([]byte("Created: 2030-01-01T00:00:00Z\n"), created(now, good)...), `more than one "Created:"`},
		{"two Active-From lines", active(now, active(now, good)), `more than one "Active-From:"`},
		{"signs before its creation", created(now, active(now.Add(-time.Second), good)), "key 1 signs from 2030-01-02T03:04:04Z, before its creation"},
		{"activation going backwards",
			join(created(now, active(now.Add(2*time.Hour), good)), created(now.Add(time.Hour), other)),
			"key 2 signs from before key 1 does"},
		{"comment before the key", append([]byte("# production key\n"), good...), "unexpected text before"},
		{"label in lower case", append([]byte("created: 2030-01-01T00:00:00Z\n"), good...), "unexpected text before"},
		{"text after the last key", join(good, []byte("garbage\n")), "unexpected text after key 1"},
		{"date line after the last key", join(good, []byte("Active-From: 2030-01-01T00:00:00Z\n")), "unexpected text after key 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			writeFile(t, path, tt.content, 0o600)

			// The store reads a missing file as an empty set: were a parse
			// error taken for one, a start would create a key over the file.
			for _, r := range readers {
				t.Run(r.name, func(t *testing.T) {
					keys, err := r.read(t, path)
					if err == nil {
						t.Fatalf("%s returned %d keys, want an error", r.name, len(keys))
					}
					if keys != nil {
						t.Errorf("keys = %v, want none on error", keys)
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
		})
	}
}

// Like ssh with a private key, the service refuses a key file that others
// than its owner may read or write, and says how to fix it.
func TestSigningKeyFileMode(t *testing.T) {
	key := newKey(t, elliptic.P256())
	content := dated("Created:", now, pkcs8PEM(t, key))
	want := []ports.SigningKey{{Private: key, Created: now, ActiveFrom: now}}
	tests := []struct {
		perm   os.FileMode
		wantOK bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o620, false},
	}
	for _, tt := range tests {
		t.Run(tt.perm.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			writeFile(t, path, content, tt.perm)
			abs, err := filepath.Abs(path)
			if err != nil {
				t.Fatal(err)
			}

			for _, r := range readers {
				keys, err := r.read(t, path)
				if tt.wantOK {
					if err != nil {
						t.Errorf("%s: %v, want the file loaded", r.name, err)
					} else {
						assertSameKeys(t, keys, want)
					}
					continue
				}
				hint := fmt.Sprintf("%s has mode %04o: others may read or write it; run `chmod 600 %s` as its owner", abs, tt.perm, abs)
				if err == nil || !strings.Contains(err.Error(), hint) {
					t.Errorf("%s: err = %v, want it to say %q", r.name, err, hint)
				}
				if err != nil && strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: err = %q, want one line", r.name, err)
				}
				if errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: the refusal matches fs.ErrNotExist", r.name)
				}
				if keys != nil {
					t.Errorf("%s: returned keys from a refused file", r.name)
				}
			}
			if !bytes.Equal(readFile(t, path), content) {
				t.Error("the key file was modified")
			}
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != tt.perm {
				t.Errorf("the key file's mode changed (stat: %v)", err)
			}
		})
	}
}

// A key file path that cannot be read is an error, never taken for a
// missing file over which a start would create a key.
func TestStoreUnreadablePath(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the key file path
		wantErr string
	}{
		{"path is a directory", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "signing.pem")
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return path
		}, "is a directory"},
		{"parent is a file", func(t *testing.T, dir string) string {
			parent := filepath.Join(dir, "keys")
			writeFile(t, parent, nil, 0o600)
			return filepath.Join(parent, "signing.pem")
		}, "not a directory"},
		// A missing file is an empty set, but the first key cannot be made
		// where there is no directory for it.
		{"parent directory missing", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "missing", "signing.pem")
		}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			store := keyfile.NewStore(path)

			keys, created, err := firstStart(t.Context(), store, now)
			if err == nil {
				t.Fatalf("first start returned %d keys (created %v), want an error", len(keys), created)
			}
			if keys != nil || created {
				t.Errorf("keys = %v, created = %v; want nil, false on error", keys, created)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantErr)
			}

			// An update, even one that would add a key whatever it is given,
			// fails without being run: no key is made for such a path.
			ran := false
			err = store.UpdateSigningKeys(t.Context(), func(current []ports.SigningKey) ([]ports.SigningKey, error) {
				ran = true
				key, err := keyfile.GenerateSigningKey(rand.Reader, now, now)
				return append(current, key), err
			})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UpdateSigningKeys: err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if ran {
				t.Error("UpdateSigningKeys ran the update on an unreadable path")
			}
			if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
				t.Error("a key file was created")
			}
		})
	}
}

func TestWriteSigningKeys(t *testing.T) {
	legacy := ports.SigningKey{Private: newKey(t, elliptic.P256())}
	first := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now, ActiveFrom: now}
	second := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(time.Hour)}
	next := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(25 * time.Hour)}
	withoutActiveFrom := second
	withoutActiveFrom.ActiveFrom = time.Time{}

	tests := []struct {
		name           string
		write          []ports.SigningKey
		want           []ports.SigningKey // as read back
		wantActiveFrom int                // Active-From lines in the file
	}{
		{"one key", []ports.SigningKey{first}, []ports.SigningKey{first}, 0},
		{"a key added", []ports.SigningKey{first, second}, []ports.SigningKey{first, second}, 0},
		{"a next key", []ports.SigningKey{first, next}, []ports.SigningKey{first, next}, 1},
		{"an undated oldest key", []ports.SigningKey{legacy, first}, []ports.SigningKey{legacy, first}, 0},
		{"zero ActiveFrom reads back as Created", []ports.SigningKey{first, withoutActiveFrom}, []ports.SigningKey{first, second}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			// A loose mode on the old file is not carried over.
			writeFile(t, path, pkcs8PEM(t, newKey(t, elliptic.P256())), 0o640)

			if err := keyfile.WriteSigningKeys(path, tt.write); err != nil {
				t.Fatalf("WriteSigningKeys: %v", err)
			}
			assertSameKeys(t, assertKeyFile(t, path), tt.want)
			if got := strings.Count(string(readFile(t, path)), "Active-From:"); got != tt.wantActiveFrom {
				t.Errorf("file holds %d Active-From lines, want %d", got, tt.wantActiveFrom)
			}
		})
	}
}

func TestWriteSigningKeysErrors(t *testing.T) {
	k1 := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now, ActiveFrom: now}
	k2 := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(time.Hour)}
	with := func(k ports.SigningKey, change func(*ports.SigningKey)) ports.SigningKey {
		change(&k)
		return k
	}
	tests := []struct {
		name    string
		keys    []ports.SigningKey
		wantErr string
	}{
		{"no key", nil, "no signing key"},
		{"nil private key", []ports.SigningKey{k1, {Created: now.Add(time.Hour)}}, "key 2 is missing"},
		{"P-384 key", []ports.SigningKey{{Private: newKey(t, elliptic.P384()), Created: now}}, "P-384"},
		{"same key twice", []ports.SigningKey{k1, with(k1, func(k *ports.SigningKey) { k.Created = now.Add(time.Hour) })}, "key 2 repeats key 1"},
		{"newer key undated", []ports.SigningKey{k1, with(k2, func(k *ports.SigningKey) { k.Created = time.Time{} })}, "key 2 has no Created: line"},
		{"dates going backwards", []ports.SigningKey{k2, with(k1, func(k *ports.SigningKey) {})}, "key 2 is dated before key 1"},
		{"signs before its creation", []ports.SigningKey{with(k1, func(k *ports.SigningKey) { k.ActiveFrom = now.Add(-time.Hour) })}, "before its creation"},
		{"activation going backwards",
			[]ports.SigningKey{with(k1, func(k *ports.SigningKey) { k.ActiveFrom = now.Add(2 * time.Hour) }), k2},
			"key 2 signs from before key 1 does"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			content := dated("Created:", now, pkcs8PEM(t, newKey(t, elliptic.P256())))
			writeFile(t, path, content, 0o600)

			err := keyfile.WriteSigningKeys(path, tt.keys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if !bytes.Equal(readFile(t, path), content) {
				t.Error("the key file was modified")
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
				t.Errorf("directory holds %d entries (%v), want only the key file", len(entries), err)
			}
		})
	}
}

func TestWriteSigningKeysNeedsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	key := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now, ActiveFrom: now}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"missing file", filepath.Join(dir, "signing.pem"), "no such file"},
		{"missing directory", filepath.Join(dir, "missing", "signing.pem"), "no such file"},
		{"a directory", dir, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keyfile.WriteSigningKeys(tt.path, []ports.SigningKey{key})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Errorf("directory holds %d entries (%v), want none: nothing may be created", len(entries), err)
			}
		})
	}
}
