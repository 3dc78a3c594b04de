package app

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"authapi/app/auth"
)

func TestLoginThrottleOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	wrong := map[string]string{"email": email, "password": "WrongPassword1!"}
	for i := 0; i < 6; i++ {
		wantProblem(t, api.do(t, "POST", "/login", wrong), http.StatusUnauthorized, "invalid_credentials")
	}
	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests")
	if got := res.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
}

// httptest requests come from 192.0.2.1; X-Forwarded-For is believed only
// from a trusted proxy.
func TestClientAddressForLimits(t *testing.T) {
	tests := []struct {
		name     string
		proxies  []string
		separate bool // whether different X-Forwarded-For values get separate budgets
	}{
		{"forwarded header ignored by default", nil, false},
		{"forwarded header believed from a trusted proxy", []string{"192.0.2.0/24"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, func(c *Config) {
				c.TrustedProxies = tt.proxies
				c.Limits.VerifyPerSource = auth.Per("", 2, time.Hour)
			})
			body := map[string]string{"email": "nobody@example.com", "activation_code": "000000"}
			limited := 0
			for i := 0; i < 3; i++ {
				res := api.do(t, "POST", "/verify", body, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				if res.Code == http.StatusTooManyRequests {
					limited++
				}
			}
			if got := limited == 0; got != tt.separate {
				t.Errorf("%d of 3 requests limited; separate budgets = %v, want %v", limited, got, tt.separate)
			}
		})
	}
}
