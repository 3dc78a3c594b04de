// Package resourceserver lets a Go service accept authapi's access tokens
// without calling authapi: it checks each token offline against the public
// keys that authapi publishes at /.well-known/jwks.json.
//
// The common case takes three lines:
//
//	verifier, err := resourceserver.New(ctx, resourceserver.Config{Issuer: "https://auth.example.com", Audience: "https://auth.example.com"})
//	mux.Handle("/api/", verifier.Require(apiHandler))
//	// in the handler: claims, _ := resourceserver.ClaimsFrom(r.Context())
//
// A token passes only if it is an ES256 JWS with header "typ" "at+jwt", signed
// by a key in the JWKS, from the configured issuer, for the configured
// audience, not expired, and with a subject. Refresh tokens, which authapi
// MACs with a key only it holds, never pass.
//
// Keys are cached. The cache is refreshed periodically, and at once when a
// token names a key it does not hold, as happens right after authapi rotates
// its signing key; such unscheduled refetches are limited to one per
// MinRefetchInterval, so that tokens with made-up key ids cannot turn the
// verifier into a flood of requests to authapi.
package resourceserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults for the zero fields of Config.
const (
	// DefaultRefreshInterval matches the access-token lifetime, so that a key
	// authapi has retired drops out of the cache within one token lifetime.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultMinRefetchInterval lets a rotated-in key be picked up within
	// seconds while keeping forged key ids to one JWKS request per interval.
	DefaultMinRefetchInterval = 10 * time.Second
	// DefaultFetchTimeout bounds one JWKS request.
	DefaultFetchTimeout = 10 * time.Second
)

// JWKSPath is where authapi publishes its public keys, relative to its
// public URL.
const JWKSPath = "/.well-known/jwks.json"

// MaxTokenBytes is the longest token Verify parses. authapi's access tokens
// are well under 1 KiB; refusing far larger ones before decoding keeps
// oversized headers from costing base64 and JSON work.
const MaxTokenBytes = 4096

// accessTokenType is the header "typ" of authapi's access tokens (RFC 9068).
// Its refresh tokens carry another, so checking it keeps one kind from
// passing for the other even before their different algorithms do.
const accessTokenType = "at+jwt"

// Config configures a Verifier. Issuer is required; every other zero field
// takes the default documented on it.
type Config struct {
	// Issuer is authapi's public URL (its AUTH_PUBLIC_URL), required in the
	// "iss" claim.
	Issuer string
	// Audience is required among the "aud" claim's values, so that a token
	// minted for another service that trusts the same authapi is refused.
	// Empty means Issuer, which is also authapi's default audience.
	Audience string
	// JWKSURL is where the public keys are fetched. Empty means Issuer +
	// JWKSPath.
	JWKSURL string
	// RefreshInterval is how often the keys are refetched in the
	// background, so that retired keys stop being accepted. Default
	// DefaultRefreshInterval.
	RefreshInterval time.Duration
	// MinRefetchInterval is the floor between two refetches triggered by
	// tokens whose key id is not in the cache. Default
	// DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// FetchTimeout bounds one JWKS request; a request that meets an unknown
	// key id waits at most this long for the refetch, its wait for the floor
	// included. Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Leeway is the clock skew tolerated on "exp", "nbf" and "iat". Zero
	// tolerates none, as authapi itself does.
	Leeway time.Duration
	// HTTPClient fetches the JWKS. Default: a client with FetchTimeout as
	// its timeout.
	HTTPClient *http.Client
	// Now is the clock that token lifetimes are checked against. Default
	// time.Now; tests pass a fixed one.
	Now func() time.Time
	// Logger receives failed background refreshes (warnings) and the
	// reasons tokens are refused (debug). Default slog.Default().
	Logger *slog.Logger
}

// Claims is what a verified access token says about the caller.
type Claims struct {
	// Subject is the user id ("sub").
	Subject string
	// SessionID is the authapi session the token belongs to ("sid"); it
	// lets a service tell a user's devices apart.
	SessionID string
	// ExpiresAt is when the token stops being valid ("exp").
	ExpiresAt time.Time
	// AMR lists the authentication methods of the login ("amr", RFC 8176),
	// as the token states them, or nil when it carries none: versions of
	// authapi before the claim existed do not send it.
	AMR []string
}

// ErrInvalidToken is matched (errors.Is) by every error Verify returns.
var ErrInvalidToken = errors.New("invalid access token")

// Reasons for refusing a token, wrapped under ErrInvalidToken. They name
// what is wrong and never echo the token, since errors end up in logs.
var (
	errEmpty     = errors.New("empty token")
	errTooLong   = errors.New("token too long")
	errMalformed = errors.New("malformed token")
	errWrongType = errors.New("not an access token (header typ)")
	errCritical  = errors.New("unsupported critical header")
	errNoKeyID   = errors.New("missing key id")
	errNoSubject = errors.New("missing subject")
)

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
	log    *slog.Logger
	stop   context.CancelFunc
}

// tokenClaims is the JSON shape of an access token's claims.
type tokenClaims struct {
	jwt.RegisteredClaims
	SessionID string   `json:"sid,omitempty"`
	AMR       []string `json:"amr,omitempty"`
}

// New fetches the keys once, so that a wrong URL or an unreachable authapi
// shows at start rather than as every request failing, and returns a
// Verifier that refreshes them in the background until ctx ends or Close is
// called. ctx should therefore live as long as the service: a context with a
// startup deadline would stop the refresh when the deadline passes.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	refreshCtx, stop := context.WithCancel(ctx)
	keys, err := newKeyCache(refreshCtx, cfg)
	if err != nil {
		stop() // the background refresh has already started
		return nil, err
	}
	return &Verifier{
		keys: keys,
		parser: jwt.NewParser(
			// Pinning the algorithm refuses "alg": "none" and HS256 tokens
			// MACed with the public key before any key is looked up.
			jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			// Only the canonical base64url spelling of each part is read, so
			// one token has one spelling.
			jwt.WithStrictDecoding(),
		),
		log:  cfg.Logger,
		stop: stop,
	}, nil
}

// withDefaults checks cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Issuer == "" {
		return Config{}, errors.New("resourceserver: Issuer is required")
	}
	if cfg.RefreshInterval < 0 || cfg.MinRefetchInterval < 0 || cfg.FetchTimeout < 0 || cfg.Leeway < 0 {
		return Config{}, errors.New("resourceserver: durations must not be negative")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = strings.TrimSuffix(cfg.Issuer, "/") + JWKSPath
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.FetchTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// newKeyCache builds the JWKS cache from jwkset's parts rather than with
// keyfunc's one-call constructor, to fail when the first fetch fails and to
// accept only keys published for signatures.
func newKeyCache(ctx context.Context, cfg Config) (keyfunc.Keyfunc, error) {
	remote, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:          cfg.HTTPClient,
		Ctx:             ctx,
		HTTPTimeout:     cfg.FetchTimeout,
		RefreshInterval: cfg.RefreshInterval,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			// The keys fetched last stay in use, so this degrades nothing
			// until authapi rotates its key.
			cfg.Logger.WarnContext(ctx, "resourceserver: refreshing the JWKS failed", "url", cfg.JWKSURL, "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("resourceserver: fetch the JWKS at %s: %w", cfg.JWKSURL, err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{cfg.JWKSURL: remote},
		// A burst of one starting full: the first unknown key id refetches at
		// once, later ones at most once per MinRefetchInterval.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.MinRefetchInterval), 1),
		// A request that would wait longer than this for the limiter is
		// refused at once instead of queueing, so a flood of unknown key ids
		// holds no requests open. The same deadline bounds the refetch.
		RateLimitWaitMax: cfg.FetchTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("resourceserver: JWKS client: %w", err)
	}
	return keyfunc.New(keyfunc.Options{
		Ctx:          ctx,
		Storage:      client,
		UseWhitelist: []jwkset.USE{jwkset.UseSig},
	})
}

// Close stops the background refresh before the context given to New ends.
// Verify keeps working afterwards with the keys it holds and still refetches
// on unknown key ids.
func (v *Verifier) Close() {
	v.stop()
}

// Verify checks an access token (without its "Bearer " prefix) and returns
// its claims. ctx bounds the JWKS refetch an unknown key id may cause. Every
// error matches ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	switch {
	case token == "":
		return Claims{}, invalid(errEmpty)
	case len(token) > MaxTokenBytes:
		return Claims{}, invalid(errTooLong)
	case strings.ContainsFunc(token, outsideCompactJWS):
		// Base64 decoding skips CR and LF even in strict mode; without this
		// check one token would have many accepted spellings.
		return Claims{}, invalid(errMalformed)
	}
	var tc tokenClaims
	if _, err := v.parser.ParseWithClaims(token, &tc, v.keyfunc(ctx)); err != nil {
		return Claims{}, invalid(err)
	}
	// A token about nobody identifies no caller; authapi always sets "sub".
	if tc.Subject == "" {
		return Claims{}, invalid(errNoSubject)
	}
	return Claims{
		Subject:   tc.Subject,
		SessionID: tc.SessionID,
		ExpiresAt: tc.ExpiresAt.UTC(), // present: the parser requires "exp"
		AMR:       tc.AMR,
	}, nil
}

// keyfunc checks the header before looking up the key, so that a token of
// the wrong kind costs no key lookup (and so no refetch) and no ECDSA
// verification.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	lookup := v.keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != accessTokenType {
			return nil, errWrongType
		}
		// RFC 7515 requires refusing critical extensions one does not
		// implement; authapi uses none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		// Without a kid every cached key would be tried; authapi always
		// names its key.
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errNoKeyID
		}
		return lookup(t)
	}
}

func invalid(reason error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, reason)
}

// outsideCompactJWS reports whether r cannot appear in a compact JWS:
// base64url characters and the dots between the parts.
func outsideCompactJWS(r rune) bool {
	switch {
	case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return false
	case r == '-', r == '_', r == '.':
		return false
	}
	return true
}
