// Package httpapi is the HTTP adapter: it serves the auth use cases as a JSON
// API with Gin, maps domain errors to problem responses in one table, and
// keeps HTTP concerns (headers, bodies, statuses) out of the core.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/ports"
)

// Pinger reports whether the database answers and can be written, and how
// its connections stand.
type Pinger interface {
	Ping(ctx context.Context) (ports.DatabaseStatus, error)
}

// KeySet publishes the current verification keys as a JWK Set. The set can
// change while the service runs, as keys rotate.
type KeySet interface {
	JWKS() []byte
}

// MailStatus reports the state of the mail outbox.
type MailStatus interface {
	Stats(ctx context.Context) (ports.MailStats, error)
}

// Config is what the router needs.
type Config struct {
	Auth ports.AuthService
	// Admin serves the admin API under /admin/. NewRouter leaves it out
	// when it is nil, or when the admin API has a listener of its own
	// (NewAdminRouter).
	Admin  ports.AdminService
	Ready  Pinger     // checked by GET /readyz
	Mail   MailStatus // reported by GET /readyz
	Keys   KeySet     // served at /.well-known/jwks.json
	Logger *slog.Logger
	Random io.Reader // source of request ids
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For is believed; the client address is the socket's
	// otherwise. The app validates them.
	TrustedProxies []string
	// IPv6Prefix is the length of the network that an IPv6 client counts
	// as, for limits per client (0 means 64).
	IPv6Prefix int
	// ObserveRequest, if set, hears every answered request, by route
	// pattern, for metrics.
	ObserveRequest func(route, method string, status int, took time.Duration)
	// Metrics, if set, is served at GET /metrics on the public routes:
	// only when the operator asks for it.
	Metrics http.Handler
	// CORSOrigins are the exact origins (scheme://host[:port]) of browser
	// front ends that may call the public routes from another origin; none
	// leaves CORS off. The app checks them.
	CORSOrigins []string
}

// NewRouter returns the HTTP handler of the service: the public routes and,
// if cfg.Admin is set, the admin API.
func NewRouter(cfg Config) http.Handler {
	r, h := newEngine(cfg)
	registerPublic(r, h)
	if cfg.Admin != nil {
		registerAdmin(r, h)
	}
	if cfg.Metrics != nil {
		r.GET("/metrics", gin.WrapH(cfg.Metrics))
	}
	return withCORS(r, cfg.CORSOrigins)
}

// NewAdminRouter returns a handler of the admin API alone, with the health
// probes, for a listener of its own (such as on a private interface).
func NewAdminRouter(cfg Config) http.Handler {
	r, h := newEngine(cfg)
	registerAdmin(r, h)
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	return r
}

// newEngine makes a router with the middleware every route shares.
func newEngine(cfg Config) (*gin.Engine, *handlers) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Redirects would turn a POST to "/login/" into a confusing 307.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Client addresses come from the socket unless it is a trusted proxy:
	// anyone can write X-Forwarded-For, and the abuse limits key on it.
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("invalid trusted proxies; trusting none", "error", err)
		_ = r.SetTrustedProxies(nil)
	}

	if cfg.IPv6Prefix <= 0 || cfg.IPv6Prefix > 128 {
		cfg.IPv6Prefix = 64
	}
	h := &handlers{auth: cfg.Auth, admin: cfg.Admin, ready: cfg.Ready, mail: cfg.Mail, keys: cfg.Keys, ipv6Prefix: cfg.IPv6Prefix}
	r.Use(withRequestID(cfg.Random, cfg.Logger), accessLog(), recoverPanics(), securityHeaders(), limitBody())
	if cfg.ObserveRequest != nil {
		r.Use(observeRequests(cfg.ObserveRequest))
	}
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, codeRouteNotFound, "no such route", nil)
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, codeMethodNotAllowed, "this route does not accept the method "+c.Request.Method, nil)
	})
	return r, h
}

// registerPublic adds the users' routes, the probes and the documents to r.
func registerPublic(r gin.IRoutes, h *handlers) {
	r.POST("/signup", h.signup)
	r.POST("/verify", h.verify)
	r.POST("/login", h.login)
	r.POST("/login/mfa", h.loginMFA)
	r.POST("/login/passkey/options", h.passkeyLoginOptions)
	r.POST("/login/passkey", h.loginWithPasskey)
	r.POST("/refresh", h.refresh)
	r.POST("/resend-activation", h.resendActivation)
	r.POST("/logout", h.logout)
	bearer := requireBearer(h.authenticate)
	r.GET("/me", bearer, h.me)
	r.DELETE("/me", bearer, h.deleteAccount)
	r.POST("/me/password", bearer, h.changePassword)
	r.POST("/password/forgot", h.forgotPassword)
	r.POST("/password/reset", h.resetPassword)
	r.POST("/logout-all", bearer, h.logoutAll)
	r.GET("/sessions", bearer, h.listSessions)
	r.GET("/me/activity", bearer, h.activity)
	r.POST("/me/mfa/totp", bearer, h.startTOTP)
	r.POST("/me/mfa/totp/confirm", bearer, h.confirmTOTP)
	r.DELETE("/me/mfa/totp", bearer, h.disableTOTP)
	r.POST("/me/mfa/recovery-codes", bearer, h.newRecoveryCodes)
	r.POST("/me/passkeys/options", bearer, h.passkeyRegistrationOptions)
	r.POST("/me/passkeys", bearer, h.addPasskey)
	r.GET("/me/passkeys", bearer, h.listPasskeys)
	r.PATCH("/me/passkeys/:id", bearer, h.renamePasskey)
	r.DELETE("/me/passkeys/:id", bearer, h.removePasskey)
	r.DELETE("/sessions/:id", bearer, h.endSession)
	r.GET("/activate", h.activatePage)
	r.GET("/reset-password", h.resetPasswordPage)
	r.POST("/unlock", h.unlock)
	r.GET("/unlock", h.unlockPage)
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	r.GET("/.well-known/jwks.json", h.jwksDocument)
	r.GET("/openapi.json", h.openapiJSON)
	r.GET("/openapi.yaml", h.openapiYAML)
	r.GET("/docs", h.docs)
	r.GET("/docs/:asset", h.docsAsset)
}
