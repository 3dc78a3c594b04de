package resourceserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// ProblemContentType is the media type of the 401 body (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the body of a refused request: the shape authapi's own errors
// have, so that a client handles a 401 from authapi and from a service
// behind it alike, by Code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// Details of the 401 body. They tell a missing token from a refused one, and
// no more: why a token is refused is logged, not told to whoever sent it.
const (
	detailNoToken      = "the request has no bearer token in its Authorization header"
	detailInvalidToken = "the access token is malformed, expired, or not issued for this service"
)

type claimsKey struct{}

// Require passes a request on to next only if it carries a valid access
// token in "Authorization: Bearer <token>" (RFC 6750), with the token's
// claims in the request context (read them with ClaimsFrom). Other requests
// get 401 with WWW-Authenticate and a problem body.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeInvalidToken(w, detailNoToken)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err != nil {
			v.log.DebugContext(r.Context(), "resourceserver: refused a token", "error", err)
			writeInvalidToken(w, detailInvalidToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

// ClaimsFrom returns the claims that Require put in ctx; ok is false when
// ctx did not come through Require.
func ClaimsFrom(ctx context.Context) (claims Claims, ok bool) {
	claims, ok = ctx.Value(claimsKey{}).(Claims)
	return claims, ok
}

// bearerToken extracts the token from an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 11.1).
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

// writeInvalidToken answers 401 as authapi does: every failure, a missing
// token included, is "invalid_token", so clients need one branch for "get a
// new token".
func writeInvalidToken(w http.ResponseWriter, detail string) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	// The body is a fixed small struct; a failed write means the client has
	// gone, and there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(Problem{
		Type:   "/problems/invalid_token",
		Title:  "Invalid token",
		Status: http.StatusUnauthorized,
		Detail: detail,
		Code:   "invalid_token",
	})
}
