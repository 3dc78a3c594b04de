package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"authapi/ports"
)

// macKeyInfo binds the refresh-token MAC key derived from a signing key to
// that one purpose (the HKDF "info" of RFC 5869).
const macKeyInfo = "authapi refresh token HS256 key v1"

// ringKey is one key of a key ring, with what signing and checking under it
// need.
type ringKey struct {
	kid       string
	private   *ecdsa.PrivateKey
	mac       []byte    // the derived refresh-token key
	retiresAt time.Time // zero for the newest key
}

// keyRing is one key set, ready for use. It is never modified: SetKeys
// replaces the whole ring, so that a token is checked against one set, and
// the cache of verified tokens goes with the set whose keys verified them.
type keyRing struct {
	set      []ports.SigningKey // oldest first, as given
	keys     []ringKey          // in the order of set
	byKID    map[string]*ringKey
	jwks     []byte
	verified *verifiedCache // access tokens only
}

// newKeyRing checks keys and prepares them and their JWKS.
func newKeyRing(keys []ports.SigningKey, lifetime time.Duration) (*keyRing, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	r := &keyRing{
		set:      slices.Clone(keys),
		keys:     make([]ringKey, len(keys)),
		byKID:    make(map[string]*ringKey, len(keys)),
		verified: newVerifiedCache(),
	}
	public := make(map[string]*ecdsa.PublicKey, len(keys))
	for i, k := range keys {
		kid, err := Thumbprint(&k.Private.PublicKey)
		if err != nil {
			return nil, err
		}
		mac, err := macKey(k.Private)
		if err != nil {
			return nil, err
		}
		r.keys[i] = ringKey{kid: kid, private: k.Private, mac: mac, retiresAt: retiresAt(keys, i, lifetime)}
		r.byKID[kid] = &r.keys[i]
		public[kid] = &k.Private.PublicKey
	}
	jwks, err := marshalJWKS(public)
	if err != nil {
		return nil, err
	}
	r.jwks = jwks
	return r, nil
}

// signer returns the key that signs at now.
func (r *keyRing) signer(now time.Time) *ringKey {
	return &r.keys[signingIndex(r.set, now)]
}

// verificationKey picks the key for a token from its (not yet authenticated)
// header. The type check runs here, before the signature, so a token of the
// wrong kind costs no ECDSA verification. A retired key is refused even if
// the token claims a later expiry than the key lifetime allows.
func (r *keyRing) verificationKey(header map[string]any, wantTyp string, now time.Time) (*ringKey, error) {
	if typ, _ := header["typ"].(string); typ != wantTyp {
		return nil, errWrongType
	}
	// RFC 7515 requires rejecting critical extensions one does not
	// implement, and this service implements none.
	if _, ok := header["crit"]; ok {
		return nil, errCritical
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return nil, errNoKeyID
	}
	k, ok := r.byKID[kid]
	if !ok {
		return nil, errUnknownKey
	}
	if !k.retiresAt.IsZero() && !now.Before(k.retiresAt) {
		return nil, errRetiredKey
	}
	return k, nil
}

func checkKey(key *ecdsa.PrivateKey) error {
	if key == nil {
		return errors.New("signing key is required")
	}
	if key.Curve != elliptic.P256() {
		name := "unknown"
		if key.Curve != nil {
			name = key.Curve.Params().Name
		}
		return fmt.Errorf("signing key uses curve %s; ES256 needs P-256", name)
	}
	return nil
}

// checkKeys enforces what signing and retirement rely on: at least one key,
// each a P-256 key appearing once, and every key but the oldest with a time
// it signs from, never before the previous key's.
func checkKeys(keys []ports.SigningKey) error {
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
		if activeFrom(k).IsZero() {
			return fmt.Errorf("key %d is undated; only the oldest key may be", i+1)
		}
		if activeFrom(k).Before(activeFrom(keys[i-1])) {
			return fmt.Errorf("key %d signs from before key %d does; keys must be listed in the order they sign", i+1, i)
		}
	}
	return nil
}

// macKey derives the refresh-token MAC key of a signing key with HKDF-SHA256
// (RFC 5869). The private scalar is a uniformly random 256-bit secret, and
// the info string keeps the derived key apart from any other use of it; the
// MAC key thus rotates and retires with its signing key, under the same kid,
// without a second secret to store.
func macKey(key *ecdsa.PrivateKey) ([]byte, error) {
	secret, err := key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("derive MAC key: %w", err)
	}
	return hkdf.Key(sha256.New, secret, nil, macKeyInfo, sha256.Size)
}
