// Package token issues and verifies the service's access and refresh tokens.
// Both are JWTs. Access tokens are signed with ES256 (ECDSA P-256 and
// SHA-256), so that anyone holding the published JWKS can check them.
// Refresh tokens are only ever read by this service, so they carry an HS256
// MAC instead, under a key derived from the signing key: a MAC costs far less
// to check than an ECDSA signature, and nobody but this service can check, or
// forge, one.
package token

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
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
	typMFA     = "mfa+jwt"
)

// mfaTTL is the lifetime of the token between a login's password and its
// second factor.
const mfaTTL = 5 * time.Minute

// jtiBytes is the entropy of a token id: 128 bits make collisions negligible.
const jtiBytes = 16

// jwtClaims are the registered claims plus "sid", the session the token
// belongs to (the claim name of OpenID Connect's session management).
type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid,omitempty"`
	// AMR lists how the user authenticated (RFC 8176), such as
	// ["pwd", "otp"].
	AMR []string `json:"amr,omitempty"`
}

// Config configures Tokens.
type Config struct {
	// Keys are the signing keys, oldest first (see ports.SigningKey). At any
	// moment the newest key whose ActiveFrom has come signs new tokens; a
	// newer one is published and verifies, but signs only from its time;
	// each older one verifies tokens until it retires (see Inspect), the key
	// lifetime being the larger of AccessTTL and RefreshTTL. Callers leave
	// out keys already retired (Prune), so that the JWKS does not publish
	// them.
	Keys []ports.SigningKey
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

// profile is how tokens of one kind are made and checked.
type profile struct {
	typ    string
	ttl    time.Duration
	method jwt.SigningMethod
	// mac is set for a kind MACed under the key derived from the signing
	// key rather than signed with the signing key itself.
	mac bool
}

// signingKey returns the key of k that signs tokens of p's kind.
func (p profile) signingKey(k *ringKey) any {
	if p.mac {
		return k.mac
	}
	return k.private
}

// verificationKey returns the key of k that checks tokens of p's kind.
func (p profile) verificationKey(k *ringKey) any {
	if p.mac {
		return k.mac
	}
	return &k.private.PublicKey
}

// Tokens signs and verifies JWTs. It is safe for concurrent use, SetKeys
// included: the key ring sits behind an atomic pointer, so Issue, Verify and
// JWKS take no lock.
type Tokens struct {
	ring     atomic.Pointer[keyRing]
	issuer   string
	audience string
	access   profile
	refresh  profile
	mfa      profile
	lifetime time.Duration // of a key after its successor starts signing
	random   io.Reader
}

// New checks cfg and prepares the key set and its published JWKS.
func New(cfg Config) (*Tokens, error) {
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
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
	t := &Tokens{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		access:   profile{typ: typAccess, ttl: cfg.AccessTTL, method: jwt.SigningMethodES256},
		refresh:  profile{typ: typRefresh, ttl: cfg.RefreshTTL, method: jwt.SigningMethodHS256, mac: true},
		mfa:      profile{typ: typMFA, ttl: mfaTTL, method: jwt.SigningMethodHS256, mac: true},
		lifetime: max(cfg.AccessTTL, cfg.RefreshTTL),
		random:   cfg.Random,
	}
	if err := t.SetKeys(cfg.Keys); err != nil {
		return nil, fmt.Errorf("token config: %w", err)
	}
	return t, nil
}

// SetKeys replaces the key set, as Config.Keys describes it, so that keys
// can be reloaded without a restart. Tokens of a key that is not in keys
// are refused from then on, even those verified before. On error the
// current set stays in use.
func (t *Tokens) SetKeys(keys []ports.SigningKey) error {
	ring, err := newKeyRing(keys, t.lifetime)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	t.ring.Store(ring)
	return nil
}

func checkTTL(kind string, ttl time.Duration) error {
	if ttl < time.Second || ttl%time.Second != 0 {
		return fmt.Errorf("token config: %s TTL %v must be a positive whole number of seconds", kind, ttl)
	}
	return nil
}

// KeyID returns the kid (the RFC 7638 thumbprint) of the key that signs at
// now, which identifies the key in logs without revealing anything about it.
func (t *Tokens) KeyID(now time.Time) string { return t.ring.Load().signer(now).kid }

// JWKS returns the JSON Web Key Set of every key of the current set, public
// parts only, for clients that verify tokens themselves. It includes keys
// that do not sign yet, so that clients know them before their first token.
// The caller must not modify the returned slice.
func (t *Tokens) JWKS() []byte { return t.ring.Load().jwks }

// Issue signs a token of the given kind for userID with the key that signs
// at now. Times are truncated to whole seconds, the resolution of JWT dates,
// so the returned claims equal what Verify will later report.
func (t *Tokens) Issue(spec ports.TokenSpec, now time.Time) (string, domain.Claims, error) {
	p, ok := t.profile(spec.Kind)
	switch {
	case !ok:
		return "", domain.Claims{}, fmt.Errorf("issue token: unknown kind %d", int(spec.Kind))
	case spec.UserID == "":
		return "", domain.Claims{}, errors.New("issue token: user id is required")
	case spec.SessionID == "" && spec.Kind != domain.MFAToken:
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
		AMR:       spec.AMR,
	}
	claims.ExpiresAt = claims.IssuedAt.Add(p.ttl)

	signer := t.ring.Load().signer(now)
	tok := jwt.NewWithClaims(p.method, jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			Subject:   claims.UserID,
			ID:        claims.ID,
			IssuedAt:  jwt.NewNumericDate(claims.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(claims.ExpiresAt),
		},
		SessionID: claims.SessionID,
		AMR:       claims.AMR,
	})
	tok.Header["typ"] = p.typ
	tok.Header["kid"] = signer.kid
	signed, err := tok.SignedString(p.signingKey(signer))
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
	p, ok := t.profile(kind)
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
	// One ring for the whole check, even if SetKeys runs meanwhile.
	ring := t.ring.Load()
	if kind == domain.AccessToken {
		if claims, ok := ring.verified.get(token, now); ok {
			return claims, nil
		}
	}

	parser := jwt.NewParser(
		// Pinning each kind to its algorithm defeats "alg": "none" and the
		// HS256 key-confusion attack (an access token MACed with the public
		// key) before any key is looked at.
		jwt.WithValidMethods([]string{p.method.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var (
		rc  jwtClaims
		key *ringKey
	)
	_, err := parser.ParseWithClaims(token, &rc, func(tok *jwt.Token) (any, error) {
		k, err := ring.verificationKey(tok.Header, p.typ, now)
		if err != nil {
			return nil, err
		}
		key = k
		return p.verificationKey(k), nil
	})
	if err != nil {
		return domain.Claims{}, invalid(reason(err))
	}
	switch {
	case rc.Subject == "":
		return domain.Claims{}, invalid("missing subject")
	case rc.ID == "":
		return domain.Claims{}, invalid("missing token id")
	case rc.SessionID == "" && kind != domain.MFAToken:
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
		AMR:       rc.AMR,
	}
	if kind == domain.AccessToken {
		validUntil := claims.ExpiresAt
		if !key.retiresAt.IsZero() && key.retiresAt.Before(validUntil) {
			validUntil = key.retiresAt
		}
		ring.verified.put(token, claims, validUntil)
	}
	return claims, nil
}

func (t *Tokens) profile(kind domain.TokenKind) (profile, bool) {
	switch kind {
	case domain.AccessToken:
		return t.access, true
	case domain.RefreshToken:
		return t.refresh, true
	case domain.MFAToken:
		return t.mfa, true
	}
	return profile{}, false
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
