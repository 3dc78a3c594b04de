package app

import (
	"strings"
	"testing"
)

func TestRelyingPartySettings(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantRPID    string
		wantOrigins string
	}{
		{
			name:     "defaults: the public URL",
			wantRPID: "localhost", wantOrigins: "http://localhost:8080",
		},
		{
			name: "CORS origins on the RP ID join, others are left out",
			env: map[string]string{
				"AUTH_PUBLIC_URL":     "https://auth.example.com/base",
				"AUTH_WEBAUTHN_RP_ID": "Example.COM",
				"AUTH_CORS_ORIGINS":   "https://app.example.com,https://partner.example.org,https://auth.example.com",
			},
			wantRPID: "example.com", wantOrigins: "https://auth.example.com,https://app.example.com",
		},
		{
			name: "CORS origins off the default RP ID are left out",
			env: map[string]string{
				"AUTH_PUBLIC_URL":   "https://auth.example.com",
				"AUTH_CORS_ORIGINS": "https://app.example.com",
			},
			wantRPID: "auth.example.com", wantOrigins: "https://auth.example.com",
		},
		{
			name: "origins given replace the defaults",
			env: map[string]string{
				"AUTH_WEBAUTHN_RP_ID":   "localhost",
				"AUTH_WEBAUTHN_ORIGINS": "http://localhost:5173, http://localhost:3000",
			},
			wantRPID: "localhost", wantOrigins: "http://localhost:5173,http://localhost:3000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseConfig(nil, envOf(tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.relyingPartyID(); got != tt.wantRPID {
				t.Errorf("RP ID %q, want %q", got, tt.wantRPID)
			}
			if got := strings.Join(cfg.relyingPartyOrigins(), ","); got != tt.wantOrigins {
				t.Errorf("origins %q, want %q", got, tt.wantOrigins)
			}
		})
	}
}

func TestRelyingPartySettingsRefused(t *testing.T) {
	tests := []struct {
		env     map[string]string
		setting string
	}{
		{map[string]string{"AUTH_WEBAUTHN_RP_ID": "https://example.com"}, "AUTH_WEBAUTHN_RP_ID"},
		{map[string]string{"AUTH_WEBAUTHN_RP_ID": "example.com:443"}, "AUTH_WEBAUTHN_RP_ID"},
		{map[string]string{"AUTH_WEBAUTHN_RP_ID": "example..com"}, "AUTH_WEBAUTHN_RP_ID"},
		{map[string]string{"AUTH_WEBAUTHN_RP_ID": "-example.com"}, "AUTH_WEBAUTHN_RP_ID"},
		{map[string]string{"AUTH_WEBAUTHN_ORIGINS": "https://*.example.com"}, "AUTH_WEBAUTHN_ORIGINS"},
		// A browser would refuse every ceremony of a page off the RP ID:
		// start-up says so instead.
		{map[string]string{"AUTH_WEBAUTHN_ORIGINS": "https://app.example.com"}, "AUTH_WEBAUTHN_ORIGINS"},
		{map[string]string{"AUTH_WEBAUTHN_RP_ID": "example.com", "AUTH_WEBAUTHN_ORIGINS": "https://notexample.com"}, "AUTH_WEBAUTHN_ORIGINS"},
	}
	for _, tt := range tests {
		_, _, err := parseConfig(nil, envOf(tt.env), nil)
		if err == nil || !strings.Contains(err.Error(), tt.setting) {
			t.Errorf("%v: got %v, want an error naming %s", tt.env, err, tt.setting)
		}
	}
}
