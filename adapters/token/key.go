package token

import (
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
)

const pemTypePKCS8 = "PRIVATE KEY"

// LoadOrCreateKey returns the ES256 signing key stored at path as a PEM
// "PRIVATE KEY" (PKCS#8) block. If no file exists it generates a P-256 key
// from random, stores it with mode 0600 and reports created, so the caller
// can log that a new key (and so a new kid) is in use.
//
// An existing file is never replaced. The new file appears atomically and
// complete; if another process creates it first, its key is loaded and
// returned instead, so processes started together agree on one key.
func LoadOrCreateKey(path string, random io.Reader) (key *ecdsa.PrivateKey, created bool, err error) {
	key, err = loadKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	key, err = ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, false, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypePKCS8, Bytes: der})
	err = createFile(path, data)
	if errors.Is(err, fs.ErrExist) {
		key, err = loadKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("store signing key: %w", err)
	}
	return key, true, nil
}

// loadKey reads and parses the key at path. A missing file yields an error
// matching fs.ErrNotExist; parse errors never do.
func loadKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("no PEM block found; want a PKCS#8 %q block", pemTypePKCS8)
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

// createFile makes path hold exactly data with mode 0600, or fails with an
// error matching fs.ErrExist if path already exists. The data goes to a temp
// file that is synced before being hard-linked into place: link never
// replaces an existing name, and readers never see a partial file.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a successful link this only drops the temp name

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmpName, path); err != nil {
		return err
	}
	if err := os.Remove(tmpName); err != nil {
		return err
	}
	return syncDir(dir)
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
