package httpapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

// Keys of values the middleware stores on the gin context.
const (
	requestIDKey       = "authapi.request_id"
	loggerKey          = "authapi.logger"
	claimsKey          = "authapi.claims"
	bearerProtectedKey = "authapi.bearer_protected"
)

const requestIDHeader = "X-Request-ID"

// withRequestID tags each request with an id, taken from the caller when it
// looks like one so that ids can be followed across services, and returns it
// in the response.
func withRequestID(random io.Reader, base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !plausibleRequestID(id) {
			var b [12]byte
			if _, err := io.ReadFull(random, b[:]); err != nil {
				id = "unavailable"
			} else {
				id = hex.EncodeToString(b[:])
			}
		}
		c.Set(requestIDKey, id)
		c.Set(loggerKey, base.With("request_id", id))
		c.Header(requestIDHeader, id)
		c.Next()
	}
}

func plausibleRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// logger returns the request's logger, which carries its id.
func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// accessLog writes one line per request. It logs the route pattern, never the
// raw URL: query strings can carry activation codes.
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		logger(c).LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("latency", time.Since(start)),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// recoverPanics turns a panic in a handler into a logged 500 problem, so one
// bad request cannot take the process down or show a stack trace.
func recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec) // net/http's signal to drop the connection quietly
			}
			logger(c).ErrorContext(c.Request.Context(), "panic while serving request",
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeProblem(c, domain.CodeInternal, "an unexpected error occurred; it has been logged", nil)
			}
			c.Abort()
		}()
		c.Next()
	}
}

// limitBody rejects bodies over the route's bodyLimit: up front when the length is
// declared, and while reading when it is not.
func limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := bodyLimit(c.FullPath())
		if c.Request.ContentLength > limit {
			bodyTooLarge(c, limit)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// securityHeaders sets headers that are right for every response of an API
// that serves no content to be embedded or sniffed.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}

// requireBearer guards a route with an access token in the Authorization
// header (RFC 6750). Handlers behind it read the caller with claimsOf.
func requireBearer(authenticate func(c *gin.Context, token string) (domain.Claims, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(bearerProtectedKey, true)
		token, ok := bearerToken(c.GetHeader("Authorization"))
		if !ok {
			writeError(c, domain.ErrInvalidToken)
			return
		}
		claims, err := authenticate(c, token)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(claimsKey, claims)
		c.Next()
	}
}

// bearerToken extracts the token from an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

func claimsOf(c *gin.Context) domain.Claims {
	claims, _ := c.MustGet(claimsKey).(domain.Claims)
	return claims
}

// observeRequests reports each answered request to observe, by its route's
// pattern, for metrics.
func observeRequests(observe func(route, method string, status int, took time.Duration)) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		observe(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
	}
}
