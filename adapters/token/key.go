package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	pemTypePKCS8 = "PRIVATE KEY"
	// createdLabel dates the key block that follows it. It sits outside the
	// PEM block, as explanatory text (RFC 7468 §2), rather than as a PEM
	// header, because OpenSSL refuses private keys with headers other than
	// those of legacy encryption: the file stays readable by standard tools.
	createdLabel = "Created:"
	pemBegin     = "-----BEGIN "
)

// Key is one signing key of a key file.
type Key struct {
	Private *ecdsa.PrivateKey
	// Created is when the key was added. It is zero for the key of a file
	// written before keys were dated; only the oldest key may lack it, since
	// the creation time of a key is what retires the key before it.
	Created time.Time
}

// LoadOrCreateKeys returns the keys stored at path, oldest first: the last
// one signs, the others only verify. If no file exists it generates a P-256
// key from random, stores it dated now with mode 0600 and reports created,
// so the caller can log that a new key (and so a new kid) is in use.
//
// An existing file is never replaced here. The new file appears atomically
// and complete; if another process creates it first, its keys are loaded and
// returned instead, so processes started together agree on one key.
func LoadOrCreateKeys(path string, now time.Time, random io.Reader) (keys []Key, created bool, err error) {
	keys, err = ReadKeys(path)
	if err == nil {
		return keys, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	key, err := newKey(now, random)
	if err != nil {
		return nil, false, err
	}
	data, err := encodeKeys([]Key{key})
	if err != nil {
		return nil, false, err
	}
	err = createFile(path, data)
	if errors.Is(err, fs.ErrExist) {
		keys, err = ReadKeys(path)
		return keys, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("store signing key: %w", err)
	}
	return []Key{key}, true, nil
}

// ReadKeys reads and parses the key file at path, oldest key first. A
// missing file yields an error matching fs.ErrNotExist; parse errors never
// do.
func ReadKeys(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	keys, err := parseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: %w", path, err)
	}
	return keys, nil
}

// RotateKeys adds a new key, dated now, as the newest key of the file at
// path, and drops the keys that are retired at now (see Inspect). It
// returns the new key and the dropped ones. The file must exist: a missing
// one more likely means a wrong path than a wish for a first key.
//
// The file is replaced atomically (a synced temp file renamed over it) with
// mode 0600 and the old file's owner, so a reader sees either the old set or
// the new one. Rotation is an operator command, not meant to run
// concurrently with itself: of two overlapping rotations the last rename
// wins and the other's key is lost, harmlessly, since no token can have been
// signed with a key no service has loaded yet.
func RotateKeys(path string, now time.Time, lifetime time.Duration, random io.Reader) (added Key, dropped []Key, err error) {
	if lifetime <= 0 {
		return Key{}, nil, errors.New("rotate signing key: key lifetime must be positive")
	}
	info, err := os.Stat(path)
	if err != nil {
		return Key{}, nil, fmt.Errorf("rotate signing key: %w", err)
	}
	keys, err := ReadKeys(path)
	if err != nil {
		return Key{}, nil, fmt.Errorf("rotate signing key: %w", err)
	}
	if newest := keys[len(keys)-1].Created; now.Before(newest) {
		return Key{}, nil, fmt.Errorf("rotate signing key: the newest key is dated %s, after the current time %s; check the clock",
			newest.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	kept, dropped := Prune(keys, now, lifetime)
	added, err = newKey(now, random)
	if err != nil {
		return Key{}, nil, fmt.Errorf("rotate signing key: %w", err)
	}
	data, err := encodeKeys(append(kept, added))
	if err != nil {
		return Key{}, nil, fmt.Errorf("rotate signing key: %w", err)
	}
	if err := replaceFile(path, data, info); err != nil {
		return Key{}, nil, fmt.Errorf("rotate signing key: store %s: %w", path, err)
	}
	return added, dropped, nil
}

func newKey(now time.Time, random io.Reader) (Key, error) {
	private, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	// The file records whole seconds; rounding here keeps the returned key
	// equal to what a later read yields.
	return Key{Private: private, Created: now.UTC().Truncate(time.Second)}, nil
}

// encodeKeys writes each key as an optional date line and a PKCS#8 block.
func encodeKeys(keys []Key) ([]byte, error) {
	var buf bytes.Buffer
	for i, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("encode signing key %d: %w", i+1, err)
		}
		if !k.Created.IsZero() {
			fmt.Fprintf(&buf, "%s %s\n", createdLabel, k.Created.UTC().Format(time.RFC3339))
		}
		if err := pem.Encode(&buf, &pem.Block{Type: pemTypePKCS8, Bytes: der}); err != nil {
			return nil, fmt.Errorf("encode signing key %d: %w", i+1, err)
		}
	}
	return buf.Bytes(), nil
}

// parseKeys decodes a key file: one or more PKCS#8 blocks, each optionally
// preceded by its date line. Anything else is refused rather than skipped,
// so a damaged file cannot silently lose a key.
func parseKeys(data []byte) ([]Key, error) {
	var keys []Key
	rest := data
	for {
		start := bytes.Index(rest, []byte(pemBegin))
		if start < 0 {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, fmt.Errorf("unexpected text after key %d", len(keys))
			}
			break
		}
		n := len(keys) + 1
		created, err := parsePreamble(rest[:start])
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		block, after := pem.Decode(rest[start:])
		if block == nil {
			return nil, fmt.Errorf("key %d: damaged PEM block", n)
		}
		private, err := parseKey(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		keys = append(keys, Key{Private: private, Created: created})
		rest = after
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no PEM block found; want a PKCS#8 %q block", pemTypePKCS8)
	}
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// parsePreamble reads the text before a block: blank lines and at most one
// date line.
func parsePreamble(text []byte) (time.Time, error) {
	var created time.Time
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		value, ok := strings.CutPrefix(line, createdLabel)
		if !ok {
			return time.Time{}, fmt.Errorf("unexpected text before the PEM block; only a %q line may precede it", createdLabel+" <RFC 3339 time>")
		}
		if !created.IsZero() {
			return time.Time{}, fmt.Errorf("more than one %q line", createdLabel)
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(value))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", createdLabel)
		}
		created = t.UTC()
	}
	return created, nil
}

func parseKey(block *pem.Block) (*ecdsa.PrivateKey, error) {
	switch {
	case block.Type != pemTypePKCS8:
		return nil, fmt.Errorf("PEM block is %q; want a PKCS#8 %q block (convert with: openssl pkcs8 -topk8 -nocrypt)",
			block.Type, pemTypePKCS8)
	case len(block.Headers) > 0:
		return nil, errors.New("PEM block has headers; encrypted keys are not supported")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key type is %T; want an ECDSA P-256 key", parsed)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key uses curve %s; want P-256", key.Curve.Params().Name)
	}
	return key, nil
}

// checkKeys enforces what retirement relies on: every key but the oldest is
// dated, dates never go backwards, and no key appears twice.
func checkKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("no signing key")
	}
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		if err := checkKey(k.Private); err != nil {
			return fmt.Errorf("key %d: %w", i+1, err)
		}
		kid, err := Thumbprint(&k.Private.PublicKey)
		if err != nil {
			return fmt.Errorf("key %d: %w", i+1, err)
		}
		if first, dup := seen[kid]; dup {
			return fmt.Errorf("key %d repeats key %d", i+1, first)
		}
		seen[kid] = i + 1
		if i == 0 {
			continue
		}
		if k.Created.IsZero() {
			return fmt.Errorf("key %d has no %s line; only the oldest key may lack one", i+1, createdLabel)
		}
		if k.Created.Before(keys[i-1].Created) {
			return fmt.Errorf("key %d is dated before key %d; keys must be listed oldest first", i+1, i)
		}
	}
	return nil
}

// createFile makes path hold exactly data with mode 0600, or fails with an
// error matching fs.ErrExist if path already exists. The data goes to a temp
// file that is synced before being hard-linked into place: link never
// replaces an existing name, and readers never see a partial file.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmpName, err := writeTemp(path, data, nil)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName) // after a successful link this only drops the temp name

	if err := os.Link(tmpName, path); err != nil {
		return err
	}
	if err := os.Remove(tmpName); err != nil {
		return err
	}
	return syncDir(dir)
}

// replaceFile atomically replaces path with data, mode 0600, owned like the
// file described by old, so a service running as that owner can still read
// it after an administrator rotated the key.
func replaceFile(path string, data []byte, old fs.FileInfo) error {
	tmpName, err := writeTemp(path, data, old)
	if err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a synced temp file (mode 0600) beside path and
// returns its name. With old set, the temp file gets old's owner.
func writeTemp(path string, data []byte, old fs.FileInfo) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return "", err
	}
	err = func() error {
		if old != nil {
			if err := chownLike(tmp, old); err != nil {
				return err
			}
		}
		if _, err := tmp.Write(data); err != nil {
			return err
		}
		return tmp.Sync()
	}()
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes the new directory entry durable, so a crash right after
// startup cannot lose a key that tokens were already signed with.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
