//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"authapi/internal/testkit"
)

// TestFleetFinishesPasskeyCeremoniesOnAnyReplica starts each passkey
// ceremony on one replica and finishes it on the next: the challenge lives
// in the database, so a load balancer may send the two requests anywhere.
// An answer is good once in the whole fleet.
func TestFleetFinishesPasskeyCeremoniesOnAnyReplica(t *testing.T) {
	fleetTest(t)
	const frontEnd = "http://localhost:3000"
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	f := startFleet(t, fleetConfig{mailPorts: []int{mail.Port}, env: []string{
		"AUTH_WEBAUTHN_RP_ID=localhost",
		"AUTH_WEBAUTHN_ORIGINS=" + frontEnd,
	}})
	client := newClient()
	const email = "fleet-passkey@example.com"
	if res, err := signup(client, f.url(0), email); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup: %v %v", res, err)
	}
	code := activationCode(t, mail, email)
	if res, err := postJSON(client, f.url(1)+"/verify", map[string]string{"email": email, "activation_code": code}); err != nil || res.status != http.StatusOK {
		t.Fatalf("verify: %v %v", res, err)
	}
	access, err := accessToken(client, f.url(2), email)
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + access}}
	auth := testkit.NewAuthenticator(frontEnd)

	options, err := postJSONWith(client, f.url(0)+"/me/passkeys/options", map[string]string{}, bearer)
	if err != nil || options.status != http.StatusOK {
		t.Fatalf("registration options on replica 0 = %v %v", options, err)
	}
	created := json.RawMessage(auth.Create(t, []byte(options.body)))
	res, err := postJSONWith(client, f.url(1)+"/me/passkeys", map[string]any{"credential": created, "name": "fleet"}, bearer)
	if err != nil || res.status != http.StatusCreated {
		t.Fatalf("registration finished on replica 1 = %v %v, want 201", res, err)
	}

	options, err = postJSON(client, f.url(2)+"/login/passkey/options", map[string]string{})
	if err != nil || options.status != http.StatusOK {
		t.Fatalf("login options on replica 2 = %v %v", options, err)
	}
	assertion := json.RawMessage(auth.Get(t, []byte(options.body)))
	res, err = postJSON(client, f.url(0)+"/login/passkey", map[string]any{"credential": assertion})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("passkey login finished on replica 0 = %v %v, want 200", res, err)
	}
	for i := 1; i <= 2; i++ {
		res, err := postJSON(client, f.url(i)+"/login/passkey", map[string]any{"credential": assertion})
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusBadRequest || res.problemCode() != "invalid_passkey" {
			t.Errorf("the same assertion on replica %d = %d %s, want 400 invalid_passkey", i, res.status, res.body)
		}
	}
}
