package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// p256CoordBytes is the fixed width of a P-256 coordinate. JWKs must carry
// coordinates at full width (RFC 7518 §6.2.1.2), leading zeros included, or
// thumbprints of the same key would differ.
const p256CoordBytes = 32

// jwk is the public JSON Web Key of a P-256 verification key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// Thumbprint returns the RFC 7638 JWK thumbprint of a P-256 public key: the
// unpadded base64url SHA-256 of its canonical JWK. Used as the kid, it names
// the key stably across restarts without any extra state.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	x, y, err := coordinates(pub)
	if err != nil {
		return "", err
	}
	// RFC 7638 fixes the member set, their lexical order and the absence of
	// whitespace; base64url output needs no JSON escaping.
	canonical := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// coordinates returns the base64url encodings of pub's affine coordinates.
func coordinates(pub *ecdsa.PublicKey) (x, y string, err error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return "", "", fmt.Errorf("public key is not on P-256")
	}
	point, err := pub.Bytes() // 0x04 || X || Y, each at full width
	if err != nil {
		return "", "", fmt.Errorf("encode public key: %w", err)
	}
	if len(point) != 1+2*p256CoordBytes {
		return "", "", fmt.Errorf("encode public key: unexpected point length %d", len(point))
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(point[1 : 1+p256CoordBytes]), enc.EncodeToString(point[1+p256CoordBytes:]), nil
}

// marshalJWKS encodes the verification keys as a JWK Set, sorted by kid so
// the document is stable.
func marshalJWKS(keys map[string]*ecdsa.PublicKey) ([]byte, error) {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(kids))}
	for _, kid := range kids {
		x, y, err := coordinates(keys[kid])
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: kid, Use: "sig", Alg: "ES256"})
	}
	out, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return out, nil
}
