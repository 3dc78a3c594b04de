package webauthn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

const origin = "https://app.example.com"

func newRP(t *testing.T) *RelyingParty {
	t.Helper()
	rp, err := New(Config{RPID: "example.com", DisplayName: "Example", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

var alice = ports.PasskeyHolder{Handle: []byte("0190f3a2-user-alice"), Name: "alice@example.com", DisplayName: "Alice"}

func challenge(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// register makes a passkey of alice's on auth, as the service would store it.
func register(t *testing.T, rp *RelyingParty, auth *testkit.Authenticator) domain.Passkey {
	t.Helper()
	c, err := rp.RegistrationOptions(alice, nil, challenge(1))
	if err != nil {
		t.Fatal(err)
	}
	response := auth.Create(t, c.Options)
	if got, err := rp.RegistrationChallenge(response); got != c.Challenge || err != nil {
		t.Errorf("RegistrationChallenge = %q, %v; want %q", got, err, c.Challenge)
	}
	p, err := rp.VerifyRegistration(c.State, alice, response)
	if err != nil {
		t.Fatalf("registration refused: %v", err)
	}
	p.ID, p.UserID = "pk1", string(alice.Handle)
	return p
}

func TestRegistrationOptions(t *testing.T) {
	rp := newRP(t)
	existing := domain.Passkey{CredentialID: []byte("old-credential"), Transports: []string{"usb"}}
	c, err := rp.RegistrationOptions(alice, []domain.Passkey{existing}, challenge(7))
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct{ ID, Name string }
			User      struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				DisplayName string `json:"displayName"`
			}
			AuthenticatorSelection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
			Attestation        string                `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(c.Options, &opts); err != nil {
		t.Fatal(err)
	}
	o := opts.PublicKey
	want := base64.RawURLEncoding.EncodeToString(challenge(7))
	if o.Challenge != want || c.Challenge != want {
		t.Errorf("challenge %q (ceremony %q), want the one given, %q", o.Challenge, c.Challenge, want)
	}
	if o.RP.ID != "example.com" || o.RP.Name != "Example" {
		t.Errorf("rp = %+v", o.RP)
	}
	if o.User.ID != base64.RawURLEncoding.EncodeToString(alice.Handle) || o.User.Name != alice.Name || o.User.DisplayName != alice.DisplayName {
		t.Errorf("user = %+v", o.User)
	}
	if o.AuthenticatorSelection.ResidentKey != "preferred" || o.AuthenticatorSelection.UserVerification != "preferred" {
		t.Errorf("authenticator selection = %+v, want resident key and user verification preferred", o.AuthenticatorSelection)
	}
	if len(o.ExcludeCredentials) != 1 || o.ExcludeCredentials[0].ID != base64.RawURLEncoding.EncodeToString(existing.CredentialID) {
		t.Errorf("exclude = %+v, want the existing passkey", o.ExcludeCredentials)
	}
	if o.Attestation != "none" {
		t.Errorf("attestation %q, want none", o.Attestation)
	}
}

func TestRegistrationKeepsTheCredential(t *testing.T) {
	rp := newRP(t)
	auth := testkit.NewAuthenticator(origin)
	p := register(t, rp, auth)
	cred := auth.Credentials[0]
	if !bytes.Equal(p.CredentialID, cred.ID) || len(p.PublicKey) == 0 || p.SignCount != 1 {
		t.Errorf("passkey %+v, want credential %x with its key and counter 1", p, cred.ID)
	}
	if !bytes.Equal(p.AAGUID, auth.AAGUID[:]) || !p.UserVerified || p.BackupEligible || p.BackupState {
		t.Errorf("passkey flags/aaguid %+v", p)
	}
	if strings.Join(p.Transports, ",") != "internal" || p.Attachment != "platform" {
		t.Errorf("transports %v attachment %q", p.Transports, p.Attachment)
	}
}

func TestLogin(t *testing.T) {
	for _, discoverable := range []bool{true, false} {
		rp := newRP(t)
		auth := testkit.NewAuthenticator(origin)
		p := register(t, rp, auth)
		var allowed []domain.Passkey
		if !discoverable {
			allowed = []domain.Passkey{p}
		}
		c, err := rp.LoginOptions(allowed, challenge(2))
		if err != nil {
			t.Fatal(err)
		}
		response := auth.Get(t, c.Options)
		a, err := rp.ReadAssertion(response)
		if err != nil {
			t.Fatal(err)
		}
		if a.Challenge != c.Challenge || !bytes.Equal(a.CredentialID, p.CredentialID) || !bytes.Equal(a.UserHandle, alice.Handle) {
			t.Errorf("assertion read as %+v", a)
		}
		login, err := rp.VerifyLogin(c.State, alice, []domain.Passkey{p}, response)
		if err != nil {
			t.Fatalf("discoverable=%v: login refused: %v", discoverable, err)
		}
		if login.Passkey.ID != p.ID || login.Passkey.SignCount != 2 || !login.UserVerified {
			t.Errorf("discoverable=%v: login %+v, want passkey pk1 at counter 2, user verified", discoverable, login)
		}
	}
}

// TestLoginRefusals: every way an answer can be wrong is ErrInvalidPasskey.
func TestLoginRefusals(t *testing.T) {
	tests := map[string]func(t *testing.T, rp *RelyingParty, auth *testkit.Authenticator, p *domain.Passkey, c ports.Ceremony) []byte{
		"another origin": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			auth.Origin = "https://evil.example.net"
			return auth.Get(t, c.Options)
		},
		"a subdomain origin not allowed": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			auth.Origin = "https://other.example.com"
			return auth.Get(t, c.Options)
		},
		"signed for another RP ID": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			auth.RPID = "evil.example.net"
			return auth.Get(t, c.Options)
		},
		"another ceremony's challenge": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, _ ports.Ceremony) []byte {
			return auth.Sign(t, auth.Credentials[0], base64.RawURLEncoding.EncodeToString(challenge(9)))
		},
		"a key the account does not have": func(t *testing.T, rp *RelyingParty, _ *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			other := testkit.NewAuthenticator(origin)
			register(t, rp, other)
			return other.Get(t, c.Options)
		},
		"a signature by another key": func(t *testing.T, rp *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			other := testkit.NewAuthenticator(origin)
			register(t, rp, other)
			auth.Credentials[0].Key = other.Credentials[0].Key
			return auth.Get(t, c.Options)
		},
		"a changed signature": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			return editJSON(t, auth.Get(t, c.Options), "signature", "MEUCIQ"+strings.Repeat("A", 90))
		},
		"a user handle of another account": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			auth.Credentials[0].UserHandle = []byte("someone-else")
			return auth.Get(t, c.Options)
		},
		"backup eligibility changed": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			auth.BackupEligible = true
			return auth.Get(t, c.Options)
		},
		"a registration instead": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			return auth.Create(t, []byte(`{"publicKey":{"challenge":"`+c.Challenge+`","rp":{"id":"example.com"},"user":{"id":"YQ"},"pubKeyCredParams":[{"alg":-7}]}}`))
		},
		"not JSON": func(*testing.T, *RelyingParty, *testkit.Authenticator, *domain.Passkey, ports.Ceremony) []byte {
			return []byte("{")
		},
		"an empty object": func(*testing.T, *RelyingParty, *testkit.Authenticator, *domain.Passkey, ports.Ceremony) []byte {
			return []byte("{}")
		},
		"binary garbage in every field": func(t *testing.T, _ *RelyingParty, auth *testkit.Authenticator, _ *domain.Passkey, c ports.Ceremony) []byte {
			r := auth.Get(t, c.Options)
			for _, f := range []string{"clientDataJSON", "authenticatorData", "signature"} {
				r = editJSON(t, r, f, "_-_-")
			}
			return r
		},
	}
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			rp := newRP(t)
			auth := testkit.NewAuthenticator(origin)
			p := register(t, rp, auth)
			c, err := rp.LoginOptions(nil, challenge(3))
			if err != nil {
				t.Fatal(err)
			}
			_, err = rp.VerifyLogin(c.State, alice, []domain.Passkey{p}, answer(t, rp, auth, &p, c))
			if !errors.Is(err, domain.ErrInvalidPasskey) {
				t.Errorf("VerifyLogin = %v, want ErrInvalidPasskey", err)
			}
		})
	}
}

func TestRegistrationRefusals(t *testing.T) {
	tests := map[string]func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte{
		"another origin": func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte {
			auth.Origin = "http://app.example.com"
			return auth.Create(t, options)
		},
		"another RP ID": func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte {
			auth.RPID = "example.org"
			return auth.Create(t, options)
		},
		"another challenge": func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte {
			return auth.Create(t, bytes.Replace(options, []byte(base64.RawURLEncoding.EncodeToString(challenge(4))), []byte(base64.RawURLEncoding.EncodeToString(challenge(5))), 1))
		},
		"an assertion instead": func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte {
			auth.Create(t, options)
			return auth.Sign(t, auth.Credentials[0], base64.RawURLEncoding.EncodeToString(challenge(4)))
		},
		"a changed attestation object": func(t *testing.T, auth *testkit.Authenticator, options []byte) []byte {
			return editJSON(t, auth.Create(t, options), "attestationObject", "o2NmbXRkbm9uZQ")
		},
		"not JSON": func(*testing.T, *testkit.Authenticator, []byte) []byte { return []byte("\x00\xff") },
	}
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			rp := newRP(t)
			c, err := rp.RegistrationOptions(alice, nil, challenge(4))
			if err != nil {
				t.Fatal(err)
			}
			_, err = rp.VerifyRegistration(c.State, alice, answer(t, testkit.NewAuthenticator(origin), c.Options))
			if !errors.Is(err, domain.ErrInvalidPasskey) {
				t.Errorf("VerifyRegistration = %v, want ErrInvalidPasskey", err)
			}
		})
	}
}

// TestCounterGoingBackwardsIsACloneWarning: a counter not above the stored
// one means two copies of the key; an authenticator without a counter
// (always 0) is not one.
func TestCounterGoingBackwardsIsACloneWarning(t *testing.T) {
	rp := newRP(t)
	auth := testkit.NewAuthenticator(origin)
	p := register(t, rp, auth)
	p.SignCount = 50 // another copy of the key has signed 50 times
	c, _ := rp.LoginOptions(nil, challenge(6))
	login, err := rp.VerifyLogin(c.State, alice, []domain.Passkey{p}, auth.Get(t, c.Options))
	if !errors.Is(err, ports.ErrPasskeyCloned) || login.Passkey.ID != p.ID {
		t.Errorf("VerifyLogin = %+v, %v; want ErrPasskeyCloned naming the passkey", login, err)
	}

	counterless := testkit.NewAuthenticator(origin)
	counterless.NoCounter = true
	q := register(t, rp, counterless)
	for range 2 {
		c, _ := rp.LoginOptions(nil, challenge(8))
		if _, err := rp.VerifyLogin(c.State, alice, []domain.Passkey{q}, counterless.Get(t, c.Options)); err != nil {
			t.Errorf("an authenticator without a counter is refused: %v", err)
		}
	}
}

func TestNewChecksTheConfiguration(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no RP ID":                  {DisplayName: "x", Origins: []string{origin}},
		"no origins":                {RPID: "example.com", DisplayName: "x"},
		"no name":                   {RPID: "example.com", Origins: []string{origin}},
		"an URL as RPID":            {RPID: "https://example.com", DisplayName: "x", Origins: []string{origin}},
		"an origin of another site": {RPID: "example.com", DisplayName: "x", Origins: []string{origin, "https://example.net"}},
		"a look-alike origin":       {RPID: "example.com", DisplayName: "x", Origins: []string{"https://badexample.com"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// editJSON sets the response member field of a credential's JSON.
func editJSON(t *testing.T, credential []byte, field, value string) []byte {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(credential, &c); err != nil {
		t.Fatal(err)
	}
	c["response"].(map[string]any)[field] = value
	out, _ := json.Marshal(c)
	return out
}
