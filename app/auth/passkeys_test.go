package auth

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/adapters/otp"
	"authapi/adapters/webauthn"
	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

// The passkey use cases run against the real relying party and store; the
// browser and the authenticator are testkit's, which implements the
// protocol on its own.

const (
	pageOrigin      = "https://app.example.com"
	passkeyAdded    = "A passkey was added to your account"
	passkeyRemoved  = "A passkey was removed from your account"
	passkeyNotFound = "passkey_not_found"
)

// testRelyingParty is the relying party of the use case tests.
func testRelyingParty(t *testing.T) *webauthn.RelyingParty {
	t.Helper()
	rp, err := webauthn.New(webauthn.Config{RPID: "example.com", DisplayName: "Astrodesk", Origins: []string{pageOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// claimsOf returns the claims of an access token the fixture issued.
func (f *fixture) claimsOf(t *testing.T, pair ports.TokenPair) domain.Claims {
	t.Helper()
	c, err := f.tokens.Verify(pair.Access.Token, domain.AccessToken, f.clock.Now())
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return c
}

// addPasskey registers a passkey of auth for the session of pair.
func (f *fixture) addPasskey(t *testing.T, pair ports.TokenPair, auth *testkit.Authenticator, name string) domain.Passkey {
	t.Helper()
	ctx := context.Background()
	claims := f.claimsOf(t, pair)
	options, err := f.svc.PasskeyRegistrationOptions(ctx, claims, "", laptop)
	if err != nil {
		t.Fatalf("registration options: %v", err)
	}
	p, err := f.svc.AddPasskey(ctx, claims, auth.Create(t, options), name, laptop)
	if err != nil {
		t.Fatalf("add passkey: %v", err)
	}
	return p
}

// passkeyLogin logs in with a passkey of auth alone.
func (f *fixture) passkeyLogin(t *testing.T, auth *testkit.Authenticator) (ports.TokenPair, error) {
	t.Helper()
	ctx := context.Background()
	options, err := f.svc.PasskeyLoginOptions(ctx, laptop)
	if err != nil {
		t.Fatalf("login options: %v", err)
	}
	return f.svc.LoginWithPasskey(ctx, auth.Get(t, options), laptop)
}

// enableTOTP turns two-step login on for astro, signed in with pair, and
// returns the authenticator secret.
func (f *fixture) enableTOTP(t *testing.T, pair ports.TokenPair) []byte {
	t.Helper()
	ctx := context.Background()
	claims := f.claimsOf(t, pair)
	e, err := f.svc.StartTOTP(ctx, claims.UserID)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil {
		t.Fatalf("secret %q: %v", e.Secret, err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, claims, f.totpCode(t, secret), laptop); err != nil {
		t.Fatalf("confirm TOTP: %v", err)
	}
	// The next code is another time step's: the one just used is spent.
	f.clock.Advance(30 * time.Second)
	return secret
}

func (f *fixture) totpCode(t *testing.T, secret []byte) string {
	t.Helper()
	code, err := otp.Authenticator{}.CodeAt(secret, f.clock.Now().Unix()/30)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func wantAMR(t *testing.T, f *fixture, pair ports.TokenPair, want ...string) {
	t.Helper()
	if got := f.claimsOf(t, pair).AMR; !slices.Equal(got, want) {
		t.Errorf("amr %q, want %q", got, want)
	}
}

func TestPasskeyRegistrationAndLogin(t *testing.T) {
	tests := []struct {
		name           string
		userVerified   bool
		backupEligible bool
		wantAMR        []string
	}{
		{"device-bound, user verified", true, false, []string{"hwk", "user"}},
		{"synced, user verified", true, true, []string{"swk", "user"}},
		{"device-bound, user not verified", false, false, []string{"hwk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			ctx := context.Background()
			auth := testkit.NewAuthenticator(pageOrigin)
			auth.UserVerified, auth.BackupEligible = tt.userVerified, tt.backupEligible

			p := f.addPasskey(t, f.login(t), auth, "  Work laptop ")
			cred := auth.Credentials[0]
			if p.Name != "Work laptop" || p.UserID != f.userID(t) || string(p.CredentialID) != string(cred.ID) ||
				p.BackupEligible != tt.backupEligible || !p.CreatedAt.Equal(start) || !p.LastUsedAt.IsZero() {
				t.Errorf("passkey added = %+v", p)
			}
			if m := f.lastMail(t); m.Subject != passkeyAdded || !strings.Contains(m.Text, "Work laptop") {
				t.Errorf("mail after adding = %q %q, want the notice naming the passkey", m.Subject, m.Text)
			}
			if events := f.events(t, ports.AuditQuery{UserID: p.UserID, Types: []domain.EventType{domain.EventPasskeyAdded}}); len(events) != 1 {
				t.Errorf("passkey_added events: %+v", events)
			}

			f.clock.Advance(time.Minute)
			pair, err := f.passkeyLogin(t, auth)
			if err != nil {
				t.Fatalf("login with the passkey: %v", err)
			}
			wantAMR(t, f, pair, tt.wantAMR...)
			list, err := f.svc.Passkeys(ctx, p.UserID)
			if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(start.Add(time.Minute)) || list[0].SignCount != cred.Counter {
				t.Errorf("passkeys after the login = %+v, %v; want its use and counter %d recorded", list, err, cred.Counter)
			}
			if _, err := f.svc.Refresh(ctx, pair.Refresh.Token, laptop); err != nil {
				t.Errorf("refresh after a passkey login: %v", err)
			}
		})
	}
}

func TestPasskeyCeremoniesAreSingleUseAndExpire(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	auth := testkit.NewAuthenticator(pageOrigin)
	pair := f.login(t)
	claims := f.claimsOf(t, pair)

	options, err := f.svc.PasskeyRegistrationOptions(ctx, claims, "", laptop)
	if err != nil {
		t.Fatal(err)
	}
	created := auth.Create(t, options)
	if _, err := f.svc.AddPasskey(ctx, claims, created, "", laptop); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddPasskey(ctx, claims, created, "", laptop); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("the same registration again = %v, want invalid_passkey", err)
	}

	login, err := f.svc.PasskeyLoginOptions(ctx, laptop)
	if err != nil {
		t.Fatal(err)
	}
	assertion := auth.Get(t, login)
	if _, err := f.svc.LoginWithPasskey(ctx, assertion, laptop); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginWithPasskey(ctx, assertion, laptop); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("a replayed assertion = %v, want invalid_passkey", err)
	}

	stale, err := f.svc.PasskeyLoginOptions(ctx, laptop)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(domain.PasskeyChallengeTTL + time.Second)
	if _, err := f.svc.LoginWithPasskey(ctx, auth.Get(t, stale), laptop); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("an answer to options older than 5 minutes = %v, want invalid_passkey", err)
	}

	// Options of one ceremony do not serve another.
	register, err := f.svc.PasskeyRegistrationOptions(ctx, f.claimsOf(t, f.login(t)), "", laptop)
	if err != nil {
		t.Fatal(err)
	}
	cred := auth.Credentials[0]
	if _, err := f.svc.LoginWithPasskey(ctx, auth.Sign(t, cred, testkit.Challenge(t, register)), laptop); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("a login answering registration options = %v, want invalid_passkey", err)
	}
}

func TestPasskeyAnswersRefused(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	auth := testkit.NewAuthenticator(pageOrigin)
	f.addPasskey(t, f.login(t), auth, "")
	cred := auth.Credentials[0]

	// Bob's account, for answers that use one account's ceremony or key
	// for another.
	bob := astro
	bob.Email = "bob@example.com"
	if _, err := f.svc.Signup(ctx, bob, laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Verify(ctx, bob.Email, domain.CodeProof(f.lastCode(t)), laptop); err != nil {
		t.Fatal(err)
	}
	bobPair, err := f.svc.Login(ctx, bob.Email, bob.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	bobClaims := f.claimsOf(t, bobPair)

	tests := []struct {
		name   string
		answer func(t *testing.T) error
	}{
		{"another origin", func(t *testing.T) error {
			evil := testkit.NewAuthenticator("https://app.example.net")
			evil.Credentials = auth.Credentials
			_, err := f.passkeyLogin(t, evil)
			return err
		}},
		{"another relying party", func(t *testing.T) error {
			other := testkit.NewAuthenticator(pageOrigin)
			other.RPID = "example.net"
			other.Credentials = []*testkit.Credential{{ID: cred.ID, RPID: "example.com", UserHandle: cred.UserHandle, Key: cred.Key, Counter: cred.Counter + 10}}
			_, err := f.passkeyLogin(t, other)
			return err
		}},
		{"a key that is not registered", func(t *testing.T) error {
			stranger := testkit.NewAuthenticator(pageOrigin)
			options, err := f.svc.PasskeyRegistrationOptions(ctx, bobClaims, "", laptop)
			if err != nil {
				t.Fatal(err)
			}
			stranger.Create(t, options) // made, never sent
			_, err = f.passkeyLogin(t, stranger)
			return err
		}},
		{"another account's user handle", func(t *testing.T) error {
			forged := *cred
			forged.UserHandle = []byte(bobClaims.UserID)
			liar := testkit.NewAuthenticator(pageOrigin)
			liar.Credentials = []*testkit.Credential{&forged}
			_, err := f.passkeyLogin(t, liar)
			return err
		}},
		{"another account's registration", func(t *testing.T) error {
			options, err := f.svc.PasskeyRegistrationOptions(ctx, bobClaims, "", laptop)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.AddPasskey(ctx, f.claimsOf(t, f.login(t)), auth.Create(t, options), "", laptop)
			return err
		}},
		{"a registration from another origin", func(t *testing.T) error {
			options, err := f.svc.PasskeyRegistrationOptions(ctx, bobClaims, "", laptop)
			if err != nil {
				t.Fatal(err)
			}
			evil := testkit.NewAuthenticator("https://evil.example.org")
			_, err = f.svc.AddPasskey(ctx, bobClaims, evil.Create(t, options), "", laptop)
			return err
		}},
		{"a made-up challenge", func(t *testing.T) error {
			_, err := f.svc.LoginWithPasskey(ctx, auth.Sign(t, cred, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), laptop)
			return err
		}},
		{"not JSON", func(t *testing.T) error {
			_, err := f.svc.LoginWithPasskey(ctx, []byte("not json"), laptop)
			return err
		}},
		{"a registration that is not JSON", func(t *testing.T) error {
			_, err := f.svc.AddPasskey(ctx, bobClaims, []byte(`{"id":"AAAA","type":"public-key","response":{"attestationObject":"!!"}}`), "", laptop)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.answer(t); !errors.Is(err, domain.ErrInvalidPasskey) {
				t.Errorf("got %v, want invalid_passkey", err)
			}
		})
	}
	if list, _ := f.svc.Passkeys(ctx, bobClaims.UserID); len(list) != 0 {
		t.Errorf("bob has passkeys after refused registrations: %+v", list)
	}
	for _, bad := range []string{"", strings.Repeat("x", domain.MaxPasskeyNameLength+1), "tab\there"} {
		options, err := f.svc.PasskeyRegistrationOptions(ctx, bobClaims, "", laptop)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.AddPasskey(ctx, bobClaims, testkit.NewAuthenticator(pageOrigin).Create(t, options), bad, laptop)
		if bad == "" {
			if err != nil {
				t.Errorf("no name = %v, want the default name", err)
			}
			continue
		}
		if !errors.Is(err, domain.ErrValidation) {
			t.Errorf("name %q = %v, want validation_failed", bad, err)
		}
	}
}

func TestPasskeyLoginRefusesAccountsThatCannotLogIn(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, f *fixture)
		want   error
	}{
		{"disabled", func(t *testing.T, f *fixture) {
			f.update(t, func(u *domain.User) { u.DisabledAt = f.clock.Now() })
		}, domain.ErrAccountDisabled},
		{"locked", func(t *testing.T, f *fixture) {
			for i := range f.svc.cfg.Limits.Login.LockAfter {
				_, _ = f.svc.Login(context.Background(), astro.Email, "wrong-password", from(fmt.Sprintf("203.0.113.%d", i)))
			}
		}, domain.ErrAccountLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			auth := testkit.NewAuthenticator(pageOrigin)
			f.addPasskey(t, f.login(t), auth, "")
			tt.change(t, f)
			if _, err := f.passkeyLogin(t, auth); !errors.Is(err, tt.want) {
				t.Errorf("passkey login = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPasskeySignCountGoingBackIsRefusedAndAudited(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	auth := testkit.NewAuthenticator(pageOrigin)
	p := f.addPasskey(t, f.login(t), auth, "")
	for range 3 {
		if _, err := f.passkeyLogin(t, auth); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of the key, made before the last logins, signs with an older
	// counter.
	auth.Credentials[0].Counter = 1
	if _, err := f.passkeyLogin(t, auth); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Fatalf("login with a counter gone back = %v, want invalid_passkey", err)
	}
	events := f.events(t, ports.AuditQuery{UserID: p.UserID, Types: []domain.EventType{domain.EventPasskeyCloneSuspected}})
	if len(events) != 1 || events[0].Reason != p.ID {
		t.Errorf("clone events = %+v, want one naming passkey %s", events, p.ID)
	}
	if !strings.Contains(f.log.String(), "cloned authenticator") {
		t.Errorf("no warning logged:\n%s", f.log)
	}

	// Authenticators without a counter (always 0) are not suspected.
	synced := testkit.NewAuthenticator(pageOrigin)
	synced.NoCounter, synced.BackupEligible = true, true
	f.addPasskey(t, f.login(t), synced, "synced")
	for range 2 {
		if _, err := f.passkeyLogin(t, synced); err != nil {
			t.Errorf("login with a counterless passkey: %v", err)
		}
	}
}

func TestPasskeysWithTwoStepLogin(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	secret := f.enableTOTP(t, f.login(t))

	// Registering needs a recent second factor: the password login that
	// answered mfa_required gives none, an old one no longer counts.
	pair := f.loginWithSecondFactor(t, secret)
	f.clock.Advance(domain.StepUpWindow + time.Second)
	claims := f.claimsOf(t, pair)
	if _, err := f.svc.PasskeyRegistrationOptions(ctx, claims, "", laptop); !errors.Is(err, domain.ErrMFAStepUpRequired) {
		t.Fatalf("registration options with an old second factor = %v, want mfa_step_up_required", err)
	}
	options, err := f.svc.PasskeyRegistrationOptions(ctx, claims, f.totpCode(t, secret), laptop)
	if err != nil {
		t.Fatalf("registration options with a code: %v", err)
	}
	verifying := testkit.NewAuthenticator(pageOrigin)
	if _, err := f.svc.AddPasskey(ctx, claims, verifying.Create(t, options), "phone", laptop); err != nil {
		t.Fatal(err)
	}

	// A passkey that verified its user is two factors.
	pair, err = f.passkeyLogin(t, verifying)
	if err != nil {
		t.Fatalf("passkey login with user verification: %v", err)
	}
	wantAMR(t, f, pair, "hwk", "user")
	if _, err := f.svc.NewRecoveryCodes(ctx, f.claimsOf(t, pair), "", laptop); err != nil {
		t.Errorf("step-up after a verified passkey login: %v", err)
	}

	// Without user verification it is one, and the second step follows.
	f.clock.Advance(time.Minute)
	verifying.UserVerified = false
	_, err = f.passkeyLogin(t, verifying)
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeMFARequired || e.MFAToken == "" || slices.Contains(e.Methods, domain.PasskeyMethod) {
		t.Fatalf("passkey login without user verification = %v, want mfa_required without webauthn", err)
	}
	pair, err = f.svc.LoginMFA(ctx, e.MFAToken, f.totpCode(t, secret), "", laptop)
	if err != nil {
		t.Fatalf("second step after an unverified passkey: %v", err)
	}
	wantAMR(t, f, pair, "hwk", "otp")

	// After a password, a passkey is the second factor.
	verifying.UserVerified = true
	_, err = f.svc.Login(ctx, astro.Email, astro.Password, laptop)
	if !errors.As(err, &e) || e.Code != domain.CodeMFARequired || !slices.Equal(e.Methods, []string{"totp", domain.PasskeyMethod, "recovery_code"}) {
		t.Fatalf("password login = %v, want mfa_required offering totp, webauthn and recovery_code", err)
	}
	var options2 struct {
		PublicKey struct {
			AllowCredentials []struct{ ID string } `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(e.PasskeyOptions, &options2); err != nil || len(options2.PublicKey.AllowCredentials) != 1 {
		t.Fatalf("mfa_required's passkey options = %s (%v), want the account's one passkey allowed", e.PasskeyOptions, err)
	}
	assertion := verifying.Get(t, e.PasskeyOptions)
	if _, err := f.svc.LoginMFA(ctx, e.MFAToken, "", "", laptop); !errors.Is(err, domain.ErrValidation) {
		t.Errorf("second step with nothing = %v, want validation_failed", err)
	}
	pair, err = f.svc.LoginMFAWithPasskey(ctx, e.MFAToken, assertion, laptop)
	if err != nil {
		t.Fatalf("second step with the passkey: %v", err)
	}
	wantAMR(t, f, pair, "pwd", "hwk", "user")
	if _, err := f.svc.LoginMFAWithPasskey(ctx, e.MFAToken, assertion, laptop); !errors.Is(err, domain.ErrInvalidToken) && !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("the second step again = %v, want it refused", err)
	}
}

// loginWithSecondFactor logs astro in with the password and a code.
func (f *fixture) loginWithSecondFactor(t *testing.T, secret []byte) ports.TokenPair {
	t.Helper()
	ctx := context.Background()
	_, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop)
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeMFARequired {
		t.Fatalf("login = %v, want mfa_required", err)
	}
	pair, err := f.svc.LoginMFA(ctx, e.MFAToken, f.totpCode(t, secret), "", laptop)
	if err != nil {
		t.Fatalf("second step: %v", err)
	}
	f.clock.Advance(30 * time.Second)
	return pair
}

func TestManagingPasskeys(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	claims := f.claimsOf(t, pair)
	auth := testkit.NewAuthenticator(pageOrigin)
	first := f.addPasskey(t, pair, auth, "first")
	f.clock.Advance(time.Second)
	second := f.addPasskey(t, pair, testkit.NewAuthenticator(pageOrigin), "second")

	list, err := f.svc.Passkeys(ctx, claims.UserID)
	if err != nil || len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
		t.Fatalf("passkeys = %+v, %v; want first and second, oldest first", list, err)
	}
	renamed, err := f.svc.RenamePasskey(ctx, claims, first.ID, "Work laptop", laptop)
	if err != nil || renamed.Name != "Work laptop" {
		t.Errorf("rename = %+v, %v", renamed, err)
	}
	if _, err := f.svc.RenamePasskey(ctx, claims, first.ID, "", laptop); !errors.Is(err, domain.ErrValidation) {
		t.Errorf("rename to nothing = %v, want validation_failed", err)
	}

	// Another account sees none of them.
	bob := astro
	bob.Email = "bob@example.com"
	if _, err := f.svc.Signup(ctx, bob, laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Verify(ctx, bob.Email, domain.CodeProof(f.lastCode(t)), laptop); err != nil {
		t.Fatal(err)
	}
	bobPair, err := f.svc.Login(ctx, bob.Email, bob.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	bobClaims := f.claimsOf(t, bobPair)
	for _, id := range []string{first.ID, "no-such-id", "", strings.Repeat("9", 10_000)} {
		if _, err := f.svc.RenamePasskey(ctx, bobClaims, id, "mine", laptop); !errors.Is(err, domain.ErrPasskeyNotFound) {
			t.Errorf("rename of %.20q by another account = %v, want %s", id, err, passkeyNotFound)
		}
		if err := f.svc.RemovePasskey(ctx, bobClaims, id, laptop); !errors.Is(err, domain.ErrPasskeyNotFound) {
			t.Errorf("removal of %.20q by another account = %v, want %s", id, err, passkeyNotFound)
		}
	}

	if err := f.svc.RemovePasskey(ctx, claims, first.ID, laptop); err != nil {
		t.Fatal(err)
	}
	if m := f.lastMail(t); m.Subject != passkeyRemoved || !strings.Contains(m.Text, "Work laptop") {
		t.Errorf("mail after removing = %q %q, want the notice naming the passkey", m.Subject, m.Text)
	}
	if _, err := f.passkeyLogin(t, auth); !errors.Is(err, domain.ErrInvalidPasskey) {
		t.Errorf("login with a removed passkey = %v, want invalid_passkey", err)
	}
	for _, event := range []domain.EventType{domain.EventPasskeyRenamed, domain.EventPasskeyRemoved} {
		if got := f.events(t, ports.AuditQuery{UserID: claims.UserID, Types: []domain.EventType{event}}); len(got) != 1 || got[0].Reason != first.ID {
			t.Errorf("%s events = %+v", event, got)
		}
	}
}

func TestPasskeyLimitPerAccount(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	for i := range domain.MaxPasskeys {
		f.addPasskey(t, pair, testkit.NewAuthenticator(pageOrigin), fmt.Sprintf("key %d", i))
	}
	if _, err := f.svc.PasskeyRegistrationOptions(ctx, f.claimsOf(t, pair), "", laptop); !errors.Is(err, domain.ErrTooManyPasskeys) {
		t.Errorf("options for passkey %d = %v, want too_many_passkeys", domain.MaxPasskeys+1, err)
	}
}
