// Package token issues and verifies the service's access and refresh tokens.
// Both are JWTs. Access tokens are signed with ES256 (ECDSA P-256 and
// SHA-256), so that anyone holding the published JWKS can check them.
// Refresh tokens are only ever read by this service, so they carry an HS256
// MAC instead, under a key derived from the signing key: a MAC costs far less
// to check than an ECDSA signature, and nobody but this service can check, or
// forge, one.
package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.Tokens = (*Tokens)(nil)

// MaxTokenBytes is the longest token Verify will parse. Tokens issued here
// are well under 1 KiB; refusing anything far larger before decoding keeps a
// flood of huge headers from costing base64 and JSON work.
const MaxTokenBytes = 4096

// Header "typ" values. Access tokens use the media type of RFC 9068; the
// distinct value for refresh tokens means one kind can never pass for the
// other, on top of their different algorithms.
const (
	typAccess  = "at+jwt"
	typRefresh = "refresh+jwt"
)

// jtiBytes is the entropy of a token id: 128 bits make collisions negligible.
const jtiBytes = 16

// jwtClaims are the registered claims plus "sid", the session the token
// belongs to (the claim name of OpenID Connect's session management).
type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid,omitempty"`
}

// Config configures Tokens.
type Config struct {
	// Keys are the keys of the key file, oldest first, as ReadKeys returns
	// them. The newest signs new tokens; each older one verifies tokens
	// until it retires (see Inspect), the key lifetime being the larger of
	// AccessTTL and RefreshTTL. Callers leave out keys already retired
	// (Prune), so that the JWKS does not publish them.
	Keys []Key
	// Key is shorthand for a single undated key, Keys: []Key{{Private: Key}}.
	// Set either Key or Keys.
	Key *ecdsa.PrivateKey
	// Issuer is written to and required in the "iss" claim.
	Issuer string
	// Audience is written to and required in the "aud" claim, so that a
	// token minted for another service that trusts the same issuer, or by
	// an earlier deployment with another audience, is refused here. Empty
	// means Issuer: tokens meant for the service that issued them.
	Audience string
	// AccessTTL and RefreshTTL are the lifetimes of the two kinds, in whole
	// seconds because JWT times have one-second resolution.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Random supplies the bytes of token ids.
	Random io.Reader
}

// macKeyInfo binds the refresh-token MAC key derived from a signing key to
// that one purpose (the HKDF "info" of RFC 5869).
const macKeyInfo = "authapi refresh token HS256 key v1"

// verifier is what checks tokens of one key, and when it stops being
// accepted.
type verifier struct {
	key       *ecdsa.PublicKey // access tokens
	mac       []byte           // refresh tokens
	retiresAt time.Time        // zero for the signing key
}

// Tokens signs and verifies JWTs. It is immutable after New and safe for
// concurrent use.
type Tokens struct {
	signer     *ecdsa.PrivateKey
	signerMAC  []byte
	kid        string
	verifiers  map[string]verifier // by kid
	issuer     string
	audience   string
	accessTTL  time.Duration
	refreshTTL time.Duration
	random     io.Reader
	jwks       []byte
	verified   *verifiedCache // access tokens only
}

// New checks cfg and prepares the key set and its published JWKS.
func New(cfg Config) (*Tokens, error) {
	if cfg.Key != nil {
		if len(cfg.Keys) > 0 {
			return nil, errors.New("token config: set Key or Keys, not both")
		}
		cfg.Keys = []Key{{Private: cfg.Key}}
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if err := checkKeys(cfg.Keys); err != nil {
		return nil, fmt.Errorf("token config: %w", err)
	}
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("token config: issuer is required")
	case cfg.Random == nil:
		return nil, errors.New("token config: random source is required")
	}
	if err := checkTTL("access", cfg.AccessTTL); err != nil {
		return nil, err
	}
	if err := checkTTL("refresh", cfg.RefreshTTL); err != nil {
		return nil, err
	}
	lifetime := max(cfg.AccessTTL, cfg.RefreshTTL)
	verifiers := make(map[string]verifier, len(cfg.Keys))
	public := make(map[string]*ecdsa.PublicKey, len(cfg.Keys))
	var kid string
	for i, k := range cfg.Keys {
		pub := &k.Private.PublicKey
		var err error
		kid, err = Thumbprint(pub)
		if err != nil {
			return nil, fmt.Errorf("token config: %w", err)
		}
		mac, err := macKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("token config: %w", err)
		}
		verifiers[kid] = verifier{key: pub, mac: mac, retiresAt: retiresAt(cfg.Keys, i, lifetime)}
		public[kid] = pub
	}
	jwks, err := marshalJWKS(public)
	if err != nil {
		return nil, fmt.Errorf("token config: %w", err)
	}
	return &Tokens{
		signer:     cfg.Keys[len(cfg.Keys)-1].Private,
		signerMAC:  verifiers[kid].mac,
		kid:        kid, // the last key's: the newest signs
		verifiers:  verifiers,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		accessTTL:  cfg.AccessTTL,
		refreshTTL: cfg.RefreshTTL,
		random:     cfg.Random,
		jwks:       jwks,
		verified:   newVerifiedCache(),
	}, nil
}

func checkKey(key *ecdsa.PrivateKey) error {
	if key == nil {
		return errors.New("signing key is required")
	}
	if key.Curve != elliptic.P256() {
		return fmt.Errorf("signing key uses curve %s; ES256 needs P-256", key.Curve.Params().Name)
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

// algorithm is how tokens of kind are signed.
func algorithm(kind domain.TokenKind) jwt.SigningMethod {
	if kind == domain.RefreshToken {
		return jwt.SigningMethodHS256
	}
	return jwt.SigningMethodES256
}

// keyFor returns the key of v that checks tokens of kind.
func (v verifier) keyFor(kind domain.TokenKind) any {
	if kind == domain.RefreshToken {
		return v.mac
	}
	return v.key
}

func checkTTL(kind string, ttl time.Duration) error {
	if ttl < time.Second || ttl%time.Second != 0 {
		return fmt.Errorf("token config: %s TTL %v must be a positive whole number of seconds", kind, ttl)
	}
	return nil
}

// KeyID returns the kid of the signing key (its RFC 7638 thumbprint), which
// identifies the key in logs without revealing anything about it.
func (t *Tokens) KeyID() string { return t.kid }

// JWKS returns the JSON Web Key Set of every key given to New, public parts
// only, for clients that verify tokens themselves. The caller must not modify
// the returned slice.
func (t *Tokens) JWKS() []byte { return t.jwks }

// Issue signs a token of the given kind for userID. Times are truncated to
// whole seconds, the resolution of JWT dates, so the returned claims equal
// what Verify will later report.
func (t *Tokens) Issue(spec ports.TokenSpec, now time.Time) (string, domain.Claims, error) {
	typ, ttl, ok := t.profile(spec.Kind)
	switch {
	case !ok:
		return "", domain.Claims{}, fmt.Errorf("issue token: unknown kind %d", int(spec.Kind))
	case spec.UserID == "":
		return "", domain.Claims{}, errors.New("issue token: user id is required")
	case spec.SessionID == "":
		return "", domain.Claims{}, errors.New("issue token: session id is required")
	}
	id := spec.ID
	if id == "" {
		var raw [jtiBytes]byte
		if _, err := io.ReadFull(t.random, raw[:]); err != nil {
			return "", domain.Claims{}, fmt.Errorf("issue token: read random id: %w", err)
		}
		id = base64.RawURLEncoding.EncodeToString(raw[:])
	}
	claims := domain.Claims{
		Kind:      spec.Kind,
		UserID:    spec.UserID,
		SessionID: spec.SessionID,
		ID:        id,
		IssuedAt:  now.Truncate(time.Second).UTC(),
	}
	claims.ExpiresAt = claims.IssuedAt.Add(ttl)

	var key any = t.signer
	if spec.Kind == domain.RefreshToken {
		key = t.signerMAC
	}
	tok := jwt.NewWithClaims(algorithm(spec.Kind), jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			Subject:   claims.UserID,
			ID:        claims.ID,
			IssuedAt:  jwt.NewNumericDate(claims.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(claims.ExpiresAt),
		},
		SessionID: claims.SessionID,
	})
	tok.Header["typ"] = typ
	tok.Header["kid"] = t.kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", domain.Claims{}, fmt.Errorf("issue token: sign: %w", err)
	}
	return signed, claims, nil
}

// Reasons a token is rejected. They name the failed check only: nothing from
// the token itself is echoed, since errors end up in logs.
var (
	errWrongType  = errors.New("wrong token type")
	errNoKeyID    = errors.New("missing key id")
	errUnknownKey = errors.New("unknown signing key")
	errRetiredKey = errors.New("retired signing key")
	errCritical   = errors.New("unsupported critical header")
)

// Verify checks token's algorithm, type, key, signature, issuer, audience
// and lifetime at time now, and returns its claims. Every rejection matches
// domain.ErrInvalidToken.
func (t *Tokens) Verify(token string, kind domain.TokenKind, now time.Time) (domain.Claims, error) {
	typ, _, ok := t.profile(kind)
	switch {
	case !ok:
		return domain.Claims{}, invalid("unknown token kind")
	case token == "":
		return domain.Claims{}, invalid("empty token")
	case len(token) > MaxTokenBytes:
		return domain.Claims{}, invalid("token too long")
	case strings.ContainsFunc(token, outsideCompactJWS):
		// Base64 decoding skips CR and LF even in strict mode: without this
		// check, one token would have countless accepted spellings.
		return domain.Claims{}, invalid("malformed token")
	}
	if kind == domain.AccessToken {
		if claims, ok := t.verified.get(token, now); ok {
			return claims, nil
		}
	}

	parser := jwt.NewParser(
		// Pinning each kind to its algorithm defeats "alg": "none" and the
		// HS256 key-confusion attack (an access token MACed with the public
		// key) before any key is looked at.
		jwt.WithValidMethods([]string{algorithm(kind).Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var (
		rc  jwtClaims
		key verifier
	)
	_, err := parser.ParseWithClaims(token, &rc, func(tok *jwt.Token) (any, error) {
		v, err := t.verificationKey(tok.Header, typ, now)
		key = v
		return v.keyFor(kind), err
	})
	if err != nil {
		return domain.Claims{}, invalid(reason(err))
	}
	switch {
	case rc.Subject == "":
		return domain.Claims{}, invalid("missing subject")
	case rc.ID == "":
		return domain.Claims{}, invalid("missing token id")
	case rc.SessionID == "":
		return domain.Claims{}, invalid("missing session id")
	case rc.IssuedAt == nil:
		return domain.Claims{}, invalid("missing issue time")
	}
	claims := domain.Claims{
		Kind:      kind,
		UserID:    rc.Subject,
		SessionID: rc.SessionID,
		ID:        rc.ID,
		IssuedAt:  rc.IssuedAt.UTC(),
		ExpiresAt: rc.ExpiresAt.UTC(),
	}
	if kind == domain.AccessToken {
		validUntil := claims.ExpiresAt
		if !key.retiresAt.IsZero() && key.retiresAt.Before(validUntil) {
			validUntil = key.retiresAt
		}
		t.verified.put(token, claims, validUntil)
	}
	return claims, nil
}

// verificationKey picks the key for a token from its (not yet authenticated)
// header. The type check runs here, before the signature, so a token of the
// wrong kind costs no ECDSA verification. A retired key is refused even if
// the token claims a later expiry than the key lifetime allows.
func (t *Tokens) verificationKey(header map[string]any, wantTyp string, now time.Time) (verifier, error) {
	if typ, _ := header["typ"].(string); typ != wantTyp {
		return verifier{}, errWrongType
	}
	// RFC 7515 requires rejecting critical extensions one does not
	// implement, and this service implements none.
	if _, ok := header["crit"]; ok {
		return verifier{}, errCritical
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return verifier{}, errNoKeyID
	}
	v, ok := t.verifiers[kid]
	if !ok {
		return verifier{}, errUnknownKey
	}
	if !v.retiresAt.IsZero() && !now.Before(v.retiresAt) {
		return verifier{}, errRetiredKey
	}
	return v, nil
}

func (t *Tokens) profile(kind domain.TokenKind) (typ string, ttl time.Duration, ok bool) {
	switch kind {
	case domain.AccessToken:
		return typAccess, t.accessTTL, true
	case domain.RefreshToken:
		return typRefresh, t.refreshTTL, true
	}
	return "", 0, false
}

// reason maps a parse failure to a fixed description, so that no library
// error text (which may quote parts of the token) leaves the adapter.
func reason(err error) string {
	for _, r := range []struct {
		target error
		text   string
	}{
		{errWrongType, errWrongType.Error()},
		{errNoKeyID, errNoKeyID.Error()},
		{errUnknownKey, errUnknownKey.Error()},
		{errRetiredKey, errRetiredKey.Error()},
		{errCritical, errCritical.Error()},
		{jwt.ErrTokenMalformed, "malformed token"},
		{jwt.ErrTokenSignatureInvalid, "invalid signature or algorithm"},
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenUsedBeforeIssued, "token issued in the future"},
		{jwt.ErrTokenNotValidYet, "token not valid yet"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "missing required claim"},
		{jwt.ErrTokenUnverifiable, "unverifiable token"},
	} {
		if errors.Is(err, r.target) {
			return r.text
		}
	}
	return "token rejected"
}

// outsideCompactJWS reports a rune that cannot appear in a compact JWS:
// anything but the base64url alphabet and the dots between segments.
func outsideCompactJWS(r rune) bool {
	return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", domain.ErrInvalidToken, reason)
}
