package httpapi

import (
	"net/http"

	"github.com/rs/cors"
)

// corsMaxAge is how long, in seconds, a browser may reuse a preflight's
// answer.
const corsMaxAge = 600

// withCORS lets browser front ends on the given origins, and only those,
// call the routes of next (Cross-Origin Resource Sharing): it answers their
// preflights and adds the CORS headers to their requests. No origin leaves
// next as it is. The API authenticates with bearer tokens, never cookies,
// so credentials are not allowed, and every origin is named: no wildcard.
func withCORS(next http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		// rs/cors takes an empty list for every origin: never hand it one.
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders:   []string{"Retry-After", "X-Request-ID", "WWW-Authenticate"},
		AllowCredentials: false,
		MaxAge:           corsMaxAge,
	}).Handler(next)
}
