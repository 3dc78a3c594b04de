package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"authapi/ports"
)

const (
	pemTypePKCS8 = "PRIVATE KEY"
	// createdLabel and activeFromLabel date the key block that follows them.
	// They sit outside the PEM block, as explanatory text (RFC 7468 §2),
	// rather than as PEM headers, because OpenSSL refuses private keys with
	// headers other than those of legacy encryption: the file stays readable
	// by standard tools.
	createdLabel    = "Created:"
	activeFromLabel = "Active-From:"
	pemBegin        = "-----BEGIN "
)

// GenerateSigningKey makes a P-256 signing key, created at created and
// signing from activeFrom (zero means from created). Both times are
// truncated to whole seconds, as the key file records them, so that the key
// equals what a later read of the file yields. random goes to
// ecdsa.GenerateKey, which since Go 1.26 ignores it in favour of the
// system's secure source.
func GenerateSigningKey(random io.Reader, created, activeFrom time.Time) (ports.SigningKey, error) {
	created = created.UTC().Truncate(time.Second)
	activeFrom = activeFrom.UTC().Truncate(time.Second)
	if activeFrom.IsZero() {
		activeFrom = created
	}
	if activeFrom.Before(created) {
		return ports.SigningKey{}, fmt.Errorf("generate signing key: it would sign from %s, before its creation at %s",
			activeFrom.Format(time.RFC3339), created.Format(time.RFC3339))
	}
	private, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return ports.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	return ports.SigningKey{Private: private, Created: created, ActiveFrom: activeFrom}, nil
}

// ReadSigningKeys reads and parses the key file at path, oldest key first.
// A key without an Active-From line signs from its creation: its ActiveFrom
// is its Created. A missing file yields an error matching fs.ErrNotExist;
// parse errors never do. A file that its group or others may read or write
// is refused, with the command that fixes it.
func ReadSigningKeys(path string) ([]ports.SigningKey, error) {
	data, err := readPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	keys, err := parseSigningKeys(data)
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: %w", path, err)
	}
	return keys, nil
}

// WriteSigningKeys replaces the key file at path with keys, oldest first.
// The file must exist: a missing one more likely means a wrong path than a
// wish for a first key, which Store.UpdateSigningKeys creates. A set that
// ReadSigningKeys would refuse is not written.
//
// The file is replaced atomically (a synced temp file renamed over it) with
// mode 0600 and the old file's owner, so that a reader sees either the old
// set or the new one, and a service running as that owner can still read
// it. Writers are not meant to run concurrently: of two overlapping writes
// the last rename wins.
func WriteSigningKeys(path string, keys []ports.SigningKey) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("write signing keys: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("write signing keys: %s is not a regular file", path)
	}
	data, err := encodeSigningKeys(keys)
	if err != nil {
		return fmt.Errorf("write signing keys: %w", err)
	}
	if err := replaceFile(path, data, info); err != nil {
		return fmt.Errorf("write signing keys: store %s: %w", path, err)
	}
	return nil
}

// encodeSigningKeys writes each key as its optional date lines and a PKCS#8
// block. Active-From is written only when it differs from Created, so that a
// file whose keys all sign from their creation reads as before activation
// times existed.
func encodeSigningKeys(keys []ports.SigningKey) ([]byte, error) {
	if err := checkSigningKeys(keys); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for i, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("encode signing key %d: %w", i+1, err)
		}
		if !k.Created.IsZero() {
			fmt.Fprintf(&buf, "%s %s\n", createdLabel, k.Created.UTC().Format(time.RFC3339))
		}
		if !k.ActiveFrom.IsZero() && !k.ActiveFrom.Equal(k.Created) {
			fmt.Fprintf(&buf, "%s %s\n", activeFromLabel, k.ActiveFrom.UTC().Format(time.RFC3339))
		}
		if err := pem.Encode(&buf, &pem.Block{Type: pemTypePKCS8, Bytes: der}); err != nil {
			return nil, fmt.Errorf("encode signing key %d: %w", i+1, err)
		}
	}
	return buf.Bytes(), nil
}

// parseSigningKeys decodes a key file: one or more PKCS#8 blocks, each
// optionally preceded by its date lines. Anything else is refused rather than
// skipped, so that a damaged file cannot silently lose a key.
func parseSigningKeys(data []byte) ([]ports.SigningKey, error) {
	var keys []ports.SigningKey
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
		created, activeFrom, err := parsePreamble(rest[:start])
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		block, after := pem.Decode(rest[start:])
		if block == nil {
			return nil, fmt.Errorf("key %d: damaged PEM block", n)
		}
		private, err := parsePrivateKey(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		if activeFrom.IsZero() {
			activeFrom = created
		}
		keys = append(keys, ports.SigningKey{Private: private, Created: created, ActiveFrom: activeFrom})
		rest = after
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no PEM block found; want a PKCS#8 %q block", pemTypePKCS8)
	}
	if err := checkSigningKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// parsePreamble reads the text before a block: blank lines and at most one
// line of each date label, in either order.
func parsePreamble(text []byte) (created, activeFrom time.Time, err error) {
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var label string
		var dest *time.Time
		for _, l := range []struct {
			label string
			dest  *time.Time
		}{{createdLabel, &created}, {activeFromLabel, &activeFrom}} {
			if strings.HasPrefix(line, l.label) {
				label, dest = l.label, l.dest
			}
		}
		if dest == nil {
			return time.Time{}, time.Time{}, fmt.Errorf("unexpected text before the PEM block; only %q and %q lines may precede it",
				createdLabel+" <RFC 3339 time>", activeFromLabel+" <RFC 3339 time>")
		}
		if !dest.IsZero() {
			return time.Time{}, time.Time{}, fmt.Errorf("more than one %q line", label)
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(line[len(label):]))
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", label)
		}
		*dest = t.UTC()
	}
	return created, activeFrom, nil
}

func parsePrivateKey(block *pem.Block) (*ecdsa.PrivateKey, error) {
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
	return key, nil
}

// checkSigningKeys enforces what signing and retirement rely on: every key
// is a P-256 key and appears once, every key but the oldest is dated, and
// neither creation nor activation times go backwards, nor does a key sign
// before it was created.
func checkSigningKeys(keys []ports.SigningKey) error {
	if len(keys) == 0 {
		return errors.New("no signing key")
	}
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		n := i + 1
		if k.Private == nil {
			return fmt.Errorf("key %d is missing", n)
		}
		if k.Private.Curve != elliptic.P256() {
			name := "unknown"
			if k.Private.Curve != nil {
				name = k.Private.Curve.Params().Name
			}
			return fmt.Errorf("key %d uses curve %s; want P-256", n, name)
		}
		public, err := k.Private.PublicKey.Bytes()
		if err != nil {
			return fmt.Errorf("key %d: %w", n, err)
		}
		if first, dup := seen[string(public)]; dup {
			return fmt.Errorf("key %d repeats key %d", n, first)
		}
		seen[string(public)] = n
		if !k.Created.IsZero() && activeFrom(k).Before(k.Created) {
			return fmt.Errorf("key %d signs from %s, before its creation at %s", n,
				activeFrom(k).UTC().Format(time.RFC3339), k.Created.UTC().Format(time.RFC3339))
		}
		if i == 0 {
			continue
		}
		prev := keys[i-1]
		if k.Created.IsZero() {
			return fmt.Errorf("key %d has no %s line; only the oldest key may lack one", n, createdLabel)
		}
		if k.Created.Before(prev.Created) {
			return fmt.Errorf("key %d is dated before key %d; keys must be listed oldest first", n, i)
		}
		if activeFrom(k).Before(activeFrom(prev)) {
			return fmt.Errorf("key %d signs from before key %d does; keys must be listed in the order they sign", n, i)
		}
	}
	return nil
}

// activeFrom returns when k starts signing.
func activeFrom(k ports.SigningKey) time.Time {
	if k.ActiveFrom.IsZero() {
		return k.Created
	}
	return k.ActiveFrom
}
