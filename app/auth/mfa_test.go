package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

// The tests of two-step login compute the codes an authenticator app shows
// with testkit's TOTP, written from the RFCs, on the fixture's clock, which
// only the test moves: every step boundary is where the test puts it.

// Subjects of the two-step login emails.
const (
	twoStepOnSubject    = "Two-step login is on"
	twoStepOffSubject   = "Two-step login is off"
	recoveryUsedSubject = "A recovery code was used to log in"
)

var recoveryCodeShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

// claims returns the claims of a pair's access token.
func (f *fixture) claims(t *testing.T, pair ports.TokenPair) domain.Claims {
	t.Helper()
	c, err := f.tokens.Verify(pair.Access.Token, domain.AccessToken, f.clock.Now())
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return c
}

// startTOTP starts an enrolment for the session of claims and returns the
// app that scanned it.
func (f *fixture) startTOTP(t *testing.T, claims domain.Claims) (testkit.AuthenticatorApp, ports.TOTPEnrolment) {
	t.Helper()
	e, err := f.svc.StartTOTP(context.Background(), claims.UserID)
	if err != nil {
		t.Fatalf("StartTOTP: %v", err)
	}
	app, err := testkit.NewAuthenticatorApp(e.Secret)
	if err != nil {
		t.Fatalf("the enrolment's secret %q: %v", e.Secret, err)
	}
	return app, e
}

// enrolled is an account with two-step login on.
type enrolled struct {
	// app is the authenticator app that holds the secret.
	app testkit.AuthenticatorApp
	// recovery are the recovery codes the confirmation returned.
	recovery []string
	// pair is the login, with the password only, that turned it on.
	pair ports.TokenPair
}

// enrol activates astro, logs in, turns two-step login on with a code of
// the current step and returns what the owner then holds. The clock then
// moves on by one step, so that the code that turned it on is not current
// any more.
func (f *fixture) enrol(t *testing.T) enrolled {
	t.Helper()
	f.activeUser(t)
	pair := f.login(t)
	claims := f.claims(t, pair)
	app, _ := f.startTOTP(t, claims)
	codes, err := f.svc.ConfirmTOTP(context.Background(), claims, f.code(app, 0), laptop)
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	f.clock.Advance(testkit.TOTPPeriod)
	return enrolled{app: app, recovery: codes, pair: pair}
}

// code is what app shows at the clock's time moved by steps time steps.
func (f *fixture) code(app testkit.AuthenticatorApp, steps int64) string {
	return app.CodeOfStep(testkit.TOTPStepAt(f.clock.Now()) + steps)
}

// mfaRequired logs astro in from client with the right password and
// returns the mfa_required answer, failing on any other.
func (f *fixture) mfaRequired(t *testing.T, client domain.Client) *domain.Error {
	t.Helper()
	pair, err := f.svc.Login(context.Background(), astro.Email, astro.Password, client)
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeMFARequired {
		t.Fatalf("login with the right password = %v, want mfa_required", err)
	}
	if pair != (ports.TokenPair{}) || e.MFAToken == "" {
		t.Fatalf("mfa_required with tokens %+v and mfa_token %q, want no tokens and an mfa_token", pair, e.MFAToken)
	}
	return e
}

// mfaToken is the mfa_token of a login from the laptop.
func (f *fixture) mfaToken(t *testing.T) string {
	t.Helper()
	return f.mfaRequired(t, laptop).MFAToken
}

// loginWithCode logs astro in with the password and code.
func (f *fixture) loginWithCode(t *testing.T, code string) (ports.TokenPair, error) {
	t.Helper()
	return f.svc.LoginMFA(context.Background(), f.mfaToken(t), code, "", laptop)
}

// noLoginLimits turns the login slow-down, lockout and per-client limit
// off, for tests of something else that send many attempts.
func (f *fixture) noLoginLimits() {
	f.svc.cfg.Limits.LoginPerSource = ports.Limit{}
	f.svc.cfg.Limits.Login.FreeFailures = 1000
	f.svc.cfg.Limits.Login.LockAfter = 0
}

// astroNow is astro's stored account.
func (f *fixture) astroNow(t *testing.T) domain.User {
	t.Helper()
	u, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// subjectsTo lists the subjects of the mail queued to astro, oldest first.
func (f *fixture) subjects(t *testing.T) []string {
	t.Helper()
	var subjects []string
	for _, m := range f.queued(t) {
		if m.To == "astro.user@example.com" {
			subjects = append(subjects, m.Subject)
		}
	}
	return subjects
}

func TestStartTOTP(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	claims := f.claims(t, f.login(t))

	first, e := f.startTOTP(t, claims)
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", e.URI, err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Astrodesk:astro.user@example.com" ||
		q.Get("secret") != e.Secret || q.Get("issuer") != "Astrodesk" || q.Get("digits") != "6" ||
		q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("otpauth URI = %s, want the issuer, the email, the secret and RFC 6238's defaults", e.URI)
	}
	if !strings.HasPrefix(e.QRCode, "data:image/png;base64,") {
		t.Errorf("QR code = %.40s…, want a PNG data URI", e.QRCode)
	}

	stored := f.astroNow(t)
	if stored.MFA.Enabled() || len(stored.MFA.PendingTOTPSecret) == 0 || !stored.MFA.PendingTOTPAt.Equal(start) {
		t.Errorf("stored MFA = %+v, want a pending secret and two-step login off", stored.MFA)
	}
	// Nothing changes at login while the enrolment is pending.
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); err != nil {
		t.Errorf("login during a pending enrolment = %v, want tokens", err)
	}

	// Starting again replaces the pending secret: the first app's codes
	// no longer confirm.
	second, again := f.startTOTP(t, claims)
	if again.Secret == e.Secret {
		t.Fatal("the second enrolment has the first one's secret")
	}
	if _, err := f.svc.ConfirmTOTP(ctx, claims, f.code(first, 0), laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("confirm with the replaced secret's code = %v, want invalid_mfa_code", err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, claims, f.code(second, 0), laptop); err != nil {
		t.Errorf("confirm with the new secret's code = %v", err)
	}
	if _, err := f.svc.StartTOTP(ctx, claims.UserID); !errors.Is(err, domain.ErrMFAAlreadyEnabled) {
		t.Errorf("StartTOTP with two-step login on = %v, want mfa_already_enabled", err)
	}
	if _, err := f.svc.StartTOTP(ctx, "no-such-account"); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("StartTOTP for an account that is gone = %v, want invalid_token", err)
	}
}

// TestTheSecretIsSealedAtRest: the database holds the authenticator secret
// only encrypted, and bound to its account: copied onto another account, it
// confirms nothing there.
func TestTheSecretIsSealedAtRest(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	app, e := f.startTOTP(t, f.claims(t, f.login(t)))
	raw := decodeSecret(t, e.Secret)
	sealed := f.astroNow(t).MFA.PendingTOTPSecret
	if bytes.Contains(sealed, raw) || bytes.Contains(sealed, []byte(e.Secret)) || bytes.Contains(bytes.ToUpper(sealed), []byte(e.Secret)) {
		t.Fatal("the stored secret holds the secret in the clear")
	}

	other := astro
	other.Email = "other@example.com"
	if _, err := f.svc.Signup(ctx, other, laptop); err != nil {
		t.Fatal(err)
	}
	otherUser, err := f.users.UpdateUser(ctx, ports.UserEmail("other@example.com"), func(u *domain.User) (ports.Effects, error) {
		u.MFA.PendingTOTPSecret, u.MFA.PendingTOTPAt = sealed, f.clock.Now()
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ConfirmTOTP(ctx, domain.Claims{UserID: otherUser.ID}, f.code(app, 0), laptop)
	if err == nil {
		t.Fatal("another account confirmed with a copy of astro's sealed secret")
	}
	if !errors.Is(err, ports.ErrSealBroken) {
		t.Errorf("confirming with a copied secret = %v, want the seal broken", err)
	}
}

// decodeSecret is the key of a base32 secret.
func decodeSecret(t *testing.T, secret string) []byte {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestConfirmTOTP(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	claims := f.claims(t, pair)
	app, _ := f.startTOTP(t, claims)
	code := f.code(app, 0)

	codes, err := f.svc.ConfirmTOTP(ctx, claims, code, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != domain.RecoveryCodeCount || len(slices.Compact(slices.Sorted(slices.Values(codes)))) != len(codes) {
		t.Errorf("recovery codes = %q, want %d different ones", codes, domain.RecoveryCodeCount)
	}
	for _, c := range codes {
		if !recoveryCodeShape.MatchString(c) {
			t.Errorf("recovery code %q is not two groups of five lower-case letters and digits", c)
		}
	}
	stored := f.astroNow(t)
	if !stored.MFA.Enabled() || len(stored.MFA.PendingTOTPSecret) != 0 || len(stored.MFA.RecoveryCodes) != domain.RecoveryCodeCount ||
		!stored.MFA.TOTPEnabledAt.Equal(start) {
		t.Errorf("stored MFA = %+v, want it on since now, nothing pending, 10 recovery codes", stored.MFA)
	}
	for _, h := range stored.MFA.RecoveryCodes {
		for _, c := range codes {
			if bytes.Contains(h, []byte(c)) || bytes.Contains(h, []byte(strings.ReplaceAll(c, "-", ""))) {
				t.Errorf("a recovery code is stored in the clear")
			}
		}
	}
	if got := f.subjects(t); got[len(got)-1] != twoStepOnSubject {
		t.Errorf("emails = %q, want the last to be %q", got, twoStepOnSubject)
	}
	if events := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventMFAEnabled}}); len(events) != 1 || events[0].UserID != stored.ID {
		t.Errorf("mfa_enabled events = %+v, want one for the account", events)
	}
	// The code just given counts as the session's second factor.
	if _, err := f.svc.NewRecoveryCodes(ctx, claims, "", laptop); err != nil {
		t.Errorf("new recovery codes right after the confirmation = %v, want no step-up", err)
	}
	// The code that confirmed cannot log in too, even in its own step.
	if _, err := f.loginWithCode(t, code); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("login with the code that confirmed = %v, want invalid_mfa_code", err)
	}
	if e := f.mfaRequired(t, laptop); !slices.Equal(e.Methods, []string{"totp", "recovery_code"}) {
		t.Errorf("methods = %q, want totp and recovery_code", e.Methods)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, claims, f.code(app, 1), laptop); !errors.Is(err, domain.ErrMFAAlreadyEnabled) {
		t.Errorf("a second confirmation = %v, want mfa_already_enabled", err)
	}
	for _, secret := range append([]string{code}, codes...) {
		if strings.Contains(f.log.String(), secret) {
			t.Errorf("the log holds a code: %s", f.log)
		}
	}
}

// TestConfirmTOTPTakesOnlyACurrentCode: the enrolment is confirmed by a
// code of the current step or one either side, nothing else; a refused
// code leaves the enrolment pending, for a right code to confirm.
func TestConfirmTOTPTakesOnlyACurrentCode(t *testing.T) {
	tests := []struct {
		name string
		code func(f *fixture, app testkit.AuthenticatorApp) string
		want error
	}{
		{"code of the current step", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, 0) }, nil},
		{"code of the step before", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, -1) }, nil},
		{"code of the step after", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, 1) }, nil},
		{"with spaces around", func(f *fixture, app testkit.AuthenticatorApp) string { return " " + f.code(app, 0) + " " }, nil},
		{"expired: two steps old", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, -2) }, domain.ErrInvalidMFACode},
		{"two steps ahead", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, 2) }, domain.ErrInvalidMFACode},
		{"wrong code", func(f *fixture, app testkit.AuthenticatorApp) string { return otherDigits(f.code(app, 0), app, f) }, domain.ErrInvalidMFACode},
		{"five digits", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, 0)[:5] }, domain.ErrInvalidMFACode},
		{"seven digits", func(f *fixture, app testkit.AuthenticatorApp) string { return f.code(app, 0) + "0" }, domain.ErrInvalidMFACode},
		{"letters", func(f *fixture, app testkit.AuthenticatorApp) string { return "abcdef" }, domain.ErrInvalidMFACode},
		{"the code in full-width digits", func(f *fixture, app testkit.AuthenticatorApp) string { return fullWidth(f.code(app, 0)) }, domain.ErrInvalidMFACode},
		{"10 KB of digits", func(f *fixture, app testkit.AuthenticatorApp) string { return strings.Repeat(f.code(app, 0), 1700) }, domain.ErrInvalidMFACode},
		{"empty", func(f *fixture, app testkit.AuthenticatorApp) string { return " " }, domain.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			claims := f.claims(t, f.login(t))
			app, _ := f.startTOTP(t, claims)
			_, err := f.svc.ConfirmTOTP(context.Background(), claims, tt.code(f, app), laptop)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("ConfirmTOTP = %v, want %v", err, tt.want)
			}
			if on := f.astroNow(t).MFA.Enabled(); on != (tt.want == nil) {
				t.Fatalf("two-step login on = %v after %v", on, err)
			}
			if tt.want == nil {
				return
			}
			if n := len(f.subjects(t)); n != 1 {
				t.Errorf("%d emails to astro, want only the activation", n)
			}
			if _, err := f.svc.ConfirmTOTP(context.Background(), claims, f.code(app, 0), laptop); err != nil {
				t.Errorf("a right code after the refused one = %v", err)
			}
		})
	}
	t.Run("nothing pending", func(t *testing.T) {
		f := newFixture(t)
		f.activeUser(t)
		_, err := f.svc.ConfirmTOTP(context.Background(), f.claims(t, f.login(t)), "123456", laptop)
		if !errors.Is(err, domain.ErrNoPendingTOTP) {
			t.Errorf("ConfirmTOTP without an enrolment = %v, want no_pending_totp", err)
		}
	})
}

// otherDigits is a six-digit code that is none of app's codes in the window
// around the clock's time.
func otherDigits(code string, app testkit.AuthenticatorApp, f *fixture) string {
	window := []string{f.code(app, -1), f.code(app, 0), f.code(app, 1)}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != code && !slices.Contains(window, c) {
			return c
		}
	}
	panic("four codes in a window of three")
}

// fullWidth writes the digits of s as Unicode full-width digits.
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune { return r - '0' + '０' }, s)
}

// TestLoginMFAAcceptsOneStepEitherSide: a login's second step takes codes
// of the current step and of one either side, refused two away; at the
// last second of a step and the first of the next, the window moves with
// the clock.
func TestLoginMFAAcceptsOneStepEitherSide(t *testing.T) {
	for steps, want := range map[int64]error{-2: domain.ErrInvalidMFACode, -1: nil, 0: nil, 1: nil, 2: domain.ErrInvalidMFACode} {
		t.Run(fmt.Sprintf("%+d steps", steps), func(t *testing.T) {
			f := newFixture(t)
			app := f.enrol(t).app
			// Far enough from the confirming code that only the window
			// can refuse a code.
			f.clock.Advance(3 * testkit.TOTPPeriod)
			_, err := f.loginWithCode(t, f.code(app, steps))
			if !errors.Is(err, want) || (want == nil && err != nil) {
				t.Errorf("code %d steps from now = %v, want %v", steps, err, want)
			}
		})
	}

	t.Run("across a step boundary", func(t *testing.T) {
		f := newFixture(t)
		f.noLoginLimits()
		app := f.enrol(t).app
		// The last second of a step.
		now := f.clock.Now()
		step := testkit.TOTPStepAt(now) + 3
		f.clock.Set(time.Unix((step+1)*30-1, 0).UTC())
		if _, err := f.loginWithCode(t, app.CodeOfStep(step+2)); !errors.Is(err, domain.ErrInvalidMFACode) {
			t.Errorf("at the last second of a step, the code two steps on = %v, want invalid_mfa_code", err)
		}
		if _, err := f.loginWithCode(t, app.CodeOfStep(step-1)); err != nil {
			t.Errorf("at the last second of a step, the code of the step before = %v, want tokens", err)
		}
		f.clock.Advance(time.Second) // the first second of the next step
		if _, err := f.loginWithCode(t, app.CodeOfStep(step+2)); err != nil {
			t.Errorf("a second later, the same code two steps on (now one) = %v, want tokens", err)
		}
	})
}

// TestCodesAreAcceptedOnce: a code that logged in is refused again, even
// within its 30 seconds, and so is a code of an earlier step once a later
// one was used.
func TestCodesAreAcceptedOnce(t *testing.T) {
	f := newFixture(t)
	f.noLoginLimits()
	app := f.enrol(t).app
	// Two steps on, so that the step before the current one was never used.
	f.clock.Advance(2 * testkit.TOTPPeriod)
	now := f.code(app, 0)
	if _, err := f.loginWithCode(t, now); err != nil {
		t.Fatalf("first use of the current code = %v", err)
	}
	if _, err := f.loginWithCode(t, now); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("the same code again at once = %v, want invalid_mfa_code", err)
	}
	f.clock.Advance(10 * time.Second) // still the same step
	if _, err := f.loginWithCode(t, now); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("the same code 10 s later, in its own step = %v, want invalid_mfa_code", err)
	}
	if _, err := f.loginWithCode(t, f.code(app, -1)); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("the code of the step before, after the current one was used = %v, want invalid_mfa_code", err)
	}
	if _, err := f.loginWithCode(t, f.code(app, 1)); err != nil {
		t.Errorf("the code of the next step = %v, want tokens", err)
	}
	if _, err := f.loginWithCode(t, f.code(app, 0)); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("the current code, after the next step's was used = %v, want invalid_mfa_code", err)
	}
}

// TestAReplayRaceHasOneWinner: the same code sent with ten mfa_tokens at
// once logs in once.
func TestAReplayRaceHasOneWinner(t *testing.T) {
	f := newFixture(t)
	f.noLoginLimits()
	app := f.enrol(t).app
	const racers = 10
	tokens := make([]string, racers)
	for i := range tokens {
		tokens[i] = f.mfaToken(t)
	}
	code := f.code(app, 0)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { _, errs[i] = f.svc.LoginMFA(context.Background(), tokens[i], code, "", laptop) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrInvalidMFACode):
			t.Errorf("racer %d: %v, want tokens or invalid_mfa_code", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d racers logged in with one code, want 1", won)
	}
}

// TestFiveWrongCodesEndTheMFAToken: four wrong codes leave the mfa_token
// good for the right one; the fifth ends it, for codes and recovery codes
// alike, and a new login gets a new one.
func TestFiveWrongCodesEndTheMFAToken(t *testing.T) {
	f := newFixture(t)
	f.noLoginLimits()
	e := f.enrol(t)
	app, recovery := e.app, e.recovery
	ctx := context.Background()
	wrong := otherDigits("", app, f)

	token := f.mfaToken(t)
	for i := 1; i < domain.MaxChallengeFailures; i++ {
		if _, err := f.svc.LoginMFA(ctx, token, wrong, "", laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
			t.Fatalf("wrong code %d = %v, want invalid_mfa_code", i, err)
		}
	}
	if _, err := f.svc.LoginMFA(ctx, token, f.code(app, 0), "", laptop); err != nil {
		t.Fatalf("the right code after %d wrong ones = %v, want tokens", domain.MaxChallengeFailures-1, err)
	}

	token = f.mfaToken(t)
	for i := 1; i <= domain.MaxChallengeFailures; i++ {
		if _, err := f.svc.LoginMFA(ctx, token, "", "wrong-recovery", laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
			t.Fatalf("wrong recovery code %d = %v, want invalid_mfa_code", i, err)
		}
	}
	if _, err := f.svc.LoginMFA(ctx, token, f.code(app, 1), "", laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("the right code after five wrong ones = %v, want invalid_token", err)
	}
	if _, err := f.svc.LoginMFA(ctx, token, "", recovery[0], laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("a right recovery code after five wrong codes = %v, want invalid_token", err)
	}
	if left := len(f.astroNow(t).MFA.RecoveryCodes); left != domain.RecoveryCodeCount {
		t.Errorf("%d recovery codes left, want none spent on an ended token", left)
	}
	if _, err := f.loginWithCode(t, f.code(app, 1)); err != nil {
		t.Errorf("a new login with the right code = %v, want tokens", err)
	}
}

// TestTheMFATokenServesOneLogin: the mfa_token is refused once used, once
// expired, and anywhere but its own account's login; and a request with
// neither or both factors is invalid.
func TestTheMFATokenServesOneLogin(t *testing.T) {
	type request struct{ token, code, recoveryCode string }
	tests := []struct {
		name string
		// change turns the request of a good login, made with the mfa_token
		// good and a current code, into the one to send.
		change func(t *testing.T, f *fixture, e enrolled, r *request)
		want   error
	}{
		{"at 4 min 59 s", func(t *testing.T, f *fixture, e enrolled, r *request) {
			f.clock.Advance(domain.MFAChallengeTTL - time.Second)
			r.code = f.code(e.app, 0)
		}, nil},
		{"at 5 min: expired", func(t *testing.T, f *fixture, e enrolled, r *request) {
			f.clock.Advance(domain.MFAChallengeTTL)
			r.code = f.code(e.app, 0)
		}, domain.ErrInvalidToken},
		{"already used", func(t *testing.T, f *fixture, e enrolled, r *request) {
			if _, err := f.svc.LoginMFA(context.Background(), r.token, r.code, "", laptop); err != nil {
				t.Fatal(err)
			}
			r.code = f.code(e.app, 1)
		}, domain.ErrInvalidToken},
		{"an access token", func(t *testing.T, f *fixture, e enrolled, r *request) { r.token = e.pair.Access.Token }, domain.ErrInvalidToken},
		{"a refresh token", func(t *testing.T, f *fixture, e enrolled, r *request) { r.token = e.pair.Refresh.Token }, domain.ErrInvalidToken},
		{"garbage", func(t *testing.T, f *fixture, e enrolled, r *request) { r.token = "not-a-token" }, domain.ErrInvalidToken},
		{"10 KB", func(t *testing.T, f *fixture, e enrolled, r *request) { r.token = strings.Repeat("A", 10<<10) }, domain.ErrInvalidToken},
		{"this login's challenge named for another account", func(t *testing.T, f *fixture, e enrolled, r *request) {
			claims, err := f.tokens.Verify(r.token, domain.MFAToken, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.token, _, err = f.tokens.Issue(ports.TokenSpec{Kind: domain.MFAToken, UserID: "another-account", ID: claims.ID}, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
		}, domain.ErrInvalidToken},
		{"a challenge that does not exist", func(t *testing.T, f *fixture, e enrolled, r *request) {
			claims, err := f.tokens.Verify(r.token, domain.MFAToken, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.token, _, err = f.tokens.Issue(ports.TokenSpec{Kind: domain.MFAToken, UserID: claims.UserID, ID: "no-such-challenge"}, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
		}, domain.ErrInvalidToken},
		{"no mfa_token", func(t *testing.T, f *fixture, e enrolled, r *request) { r.token = "" }, domain.ErrValidation},
		{"neither a code nor a recovery code", func(t *testing.T, f *fixture, e enrolled, r *request) { r.code = "" }, domain.ErrValidation},
		{"both a code and a recovery code", func(t *testing.T, f *fixture, e enrolled, r *request) { r.recoveryCode = e.recovery[0] }, domain.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.noLoginLimits()
			e := f.enrol(t)
			r := request{token: f.mfaToken(t), code: f.code(e.app, 0)}
			tt.change(t, f, e, &r)
			pair, err := f.svc.LoginMFA(context.Background(), r.token, r.code, r.recoveryCode, laptop)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("LoginMFA = %v, want %v", err, tt.want)
			}
			if (tt.want == nil) != (pair.Access.Token != "") {
				t.Errorf("tokens %+v with %v", pair, err)
			}
			if tt.want != nil && len(f.astroNow(t).MFA.RecoveryCodes) != domain.RecoveryCodeCount {
				t.Error("a refused second step spent a recovery code")
			}
		})
	}
}

// TestTokensSayHowTheUserLoggedIn: access and refresh tokens, and the
// session, carry amr (RFC 8176): the password alone, the password and an
// authenticator code, or the password and a recovery code.
func TestTokensSayHowTheUserLoggedIn(t *testing.T) {
	tests := []struct {
		name  string
		login func(t *testing.T, f *fixture) ports.TokenPair
		want  []string
	}{
		{"password only", func(t *testing.T, f *fixture) ports.TokenPair {
			f.activeUser(t)
			return f.login(t)
		}, []string{"pwd"}},
		{"password and authenticator code", func(t *testing.T, f *fixture) ports.TokenPair {
			e := f.enrol(t)
			pair, err := f.loginWithCode(t, f.code(e.app, 0))
			if err != nil {
				t.Fatal(err)
			}
			return pair
		}, []string{"pwd", "otp"}},
		{"password and recovery code", func(t *testing.T, f *fixture) ports.TokenPair {
			e := f.enrol(t)
			pair, err := f.svc.LoginMFA(context.Background(), f.mfaToken(t), "", e.recovery[3], laptop)
			if err != nil {
				t.Fatal(err)
			}
			return pair
		}, []string{"pwd", "mfa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			pair := tt.login(t, f)
			access := f.claims(t, pair)
			refresh, err := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(access.AMR, tt.want) || !slices.Equal(refresh.AMR, tt.want) {
				t.Errorf("amr of the access token %q, of the refresh token %q; want %q", access.AMR, refresh.AMR, tt.want)
			}
			sess, err := f.users.Session(context.Background(), access.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sess.AMR, tt.want) {
				t.Errorf("the session's amr = %q, want %q", sess.AMR, tt.want)
			}
			if second := !sess.SecondFactorAt.IsZero(); second != (len(tt.want) > 1) {
				t.Errorf("the session's second factor at %v, for amr %q", sess.SecondFactorAt, tt.want)
			}
		})
	}
}

// TestRefreshKeepsTheAMR: every way /refresh answers issues tokens with the
// session's amr.
func TestRefreshKeepsTheAMR(t *testing.T) {
	tests := []struct {
		name   string
		rotate bool
		after  time.Duration
	}{
		{"without rotation, within the minute", false, 10 * time.Second},
		{"without rotation, an hour later", false, time.Hour},
		{"with rotation", true, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.cfg.RotateRefreshTokens = tt.rotate
			e := f.enrol(t)
			pair, err := f.loginWithCode(t, f.code(e.app, 0))
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tt.after)
			refreshed, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"pwd", "otp"}
			if got := f.claims(t, refreshed).AMR; !slices.Equal(got, want) {
				t.Errorf("amr after the refresh = %q, want %q", got, want)
			}
			if tt.rotate {
				refresh, err := f.tokens.Verify(refreshed.Refresh.Token, domain.RefreshToken, f.clock.Now())
				if err != nil || !slices.Equal(refresh.AMR, want) {
					t.Errorf("the rotated refresh token's amr = %q, %v; want %q", refresh.AMR, err, want)
				}
				// The replaced token within the grace interval gets the
				// session's current one, with the same amr.
				again, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop)
				if err != nil || !slices.Equal(f.claims(t, again).AMR, want) {
					t.Errorf("the racing refresh = %v with amr %q, want %q", err, f.claims(t, again).AMR, want)
				}
			}
		})
	}
}

func TestRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	f.noLoginLimits()
	e := f.enrol(t)
	ctx := context.Background()

	used := e.recovery[0]
	if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", used, laptop); err != nil {
		t.Fatalf("login with a recovery code = %v", err)
	}
	if left := len(f.astroNow(t).MFA.RecoveryCodes); left != domain.RecoveryCodeCount-1 {
		t.Errorf("%d recovery codes left, want %d", left, domain.RecoveryCodeCount-1)
	}
	last := f.lastMail(t)
	if last.To != "astro.user@example.com" || last.Subject != recoveryUsedSubject || !strings.Contains(last.Text, "9 are left") {
		t.Errorf("last email to %s %q: %s; want the notice of a used recovery code, 9 left", last.To, last.Subject, last.Text)
	}
	if strings.Contains(last.Text, used) || strings.Contains(last.HTML, used) {
		t.Error("the notice repeats the recovery code")
	}
	if events := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventRecoveryCodeUsed}}); len(events) != 1 {
		t.Errorf("recovery_code_used events = %+v, want one", events)
	}

	if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", used, laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("the used recovery code again = %v, want invalid_mfa_code", err)
	}
	typed := strings.ToUpper(strings.ReplaceAll(e.recovery[1], "-", " "))
	if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", typed, laptop); err != nil {
		t.Errorf("a recovery code in upper case with a space = %v, want tokens", err)
	}
	for _, wrong := range []string{"00000-00000", strings.Repeat("a", 65), e.recovery[2] + "x", f.code(e.app, 0)} {
		if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", wrong, laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
			t.Errorf("recovery code %.20q = %v, want invalid_mfa_code", wrong, err)
		}
	}
	// A recovery code is no authenticator code.
	if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), e.recovery[2], "", laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Errorf("a recovery code sent as the code = %v, want invalid_mfa_code", err)
	}
	for _, code := range e.recovery[2:] {
		if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", code, laptop); err != nil {
			t.Fatalf("recovery code %s = %v", code, err)
		}
	}
	if methods := f.mfaRequired(t, laptop).Methods; !slices.Equal(methods, []string{"totp"}) {
		t.Errorf("methods with every recovery code used = %q, want totp only", methods)
	}
}

func TestNewRecoveryCodesVoidTheOldSet(t *testing.T) {
	f := newFixture(t)
	f.noLoginLimits()
	// The fixture's counting reader repeats every 32 letters of the codes'
	// alphabet, and so would the sets of codes.
	f.svc.random = rand.Reader
	e := f.enrol(t)
	ctx := context.Background()
	pair, err := f.loginWithCode(t, f.code(e.app, 0))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := f.svc.NewRecoveryCodes(ctx, f.claims(t, pair), "", laptop)
	if err != nil {
		t.Fatalf("NewRecoveryCodes = %v", err)
	}
	if len(fresh) != domain.RecoveryCodeCount {
		t.Fatalf("%d new codes, want %d", len(fresh), domain.RecoveryCodeCount)
	}
	for _, old := range e.recovery {
		if slices.Contains(fresh, old) {
			t.Errorf("the new set holds the old code %s", old)
		}
	}
	for _, old := range e.recovery[:3] {
		if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", old, laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
			t.Errorf("an old recovery code = %v, want invalid_mfa_code", err)
		}
	}
	if _, err := f.svc.LoginMFA(ctx, f.mfaToken(t), "", fresh[0], laptop); err != nil {
		t.Errorf("a new recovery code = %v, want tokens", err)
	}
	if events := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventRecoveryCodesRenewed}}); len(events) != 1 {
		t.Errorf("recovery_codes_renewed events = %+v, want one", events)
	}

	g := newFixture(t)
	g.activeUser(t)
	if _, err := g.svc.NewRecoveryCodes(ctx, g.claims(t, g.login(t)), "", laptop); !errors.Is(err, domain.ErrMFANotEnabled) {
		t.Errorf("NewRecoveryCodes without two-step login = %v, want mfa_not_enabled", err)
	}
}

// TestDisableTOTP: turning two-step login off needs the password and a
// second factor, a current code or a recovery code, each checked; then the
// secret and the codes are gone, the owner is told and login asks for the
// password alone.
func TestDisableTOTP(t *testing.T) {
	type request struct{ password, code, recoveryCode string }
	tests := []struct {
		name    string
		request func(f *fixture, e enrolled) request
		want    error
	}{
		{"password and current code", func(f *fixture, e enrolled) request {
			return request{astro.Password, f.code(e.app, 0), ""}
		}, nil},
		{"password and recovery code", func(f *fixture, e enrolled) request {
			return request{astro.Password, "", e.recovery[5]}
		}, nil},
		{"no password", func(f *fixture, e enrolled) request { return request{"", f.code(e.app, 0), ""} }, domain.ErrValidation},
		{"no second factor", func(f *fixture, e enrolled) request { return request{astro.Password, "", ""} }, domain.ErrValidation},
		{"wrong password", func(f *fixture, e enrolled) request {
			return request{"WrongPassword1!", f.code(e.app, 0), ""}
		}, domain.ErrInvalidCredentials},
		{"wrong code", func(f *fixture, e enrolled) request {
			return request{astro.Password, otherDigits("", e.app, f), ""}
		}, domain.ErrInvalidMFACode},
		{"the code that turned it on", func(f *fixture, e enrolled) request {
			return request{astro.Password, f.code(e.app, -1), ""}
		}, domain.ErrInvalidMFACode},
		{"wrong recovery code", func(f *fixture, e enrolled) request {
			return request{astro.Password, "", "00000-00000"}
		}, domain.ErrInvalidMFACode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			e := f.enrol(t)
			ctx := context.Background()
			r := tt.request(f, e)
			mailBefore := len(f.subjects(t))
			err := f.svc.DisableTOTP(ctx, f.claims(t, e.pair), r.password, r.code, r.recoveryCode, laptop)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("DisableTOTP = %v, want %v", err, tt.want)
			}
			stored := f.astroNow(t)
			if tt.want != nil {
				if !stored.MFA.Enabled() || len(stored.MFA.RecoveryCodes) != domain.RecoveryCodeCount {
					t.Errorf("after a refused DisableTOTP, MFA = %+v", stored.MFA)
				}
				if got := f.subjects(t)[mailBefore:]; len(got) > 0 {
					t.Errorf("emails %q after a refused DisableTOTP", got)
				}
				return
			}
			if stored.MFA.Enabled() || len(stored.MFA.TOTPSecret) != 0 || len(stored.MFA.RecoveryCodes) != 0 || stored.MFA.LastTOTPStep != 0 {
				t.Errorf("after DisableTOTP, MFA = %+v, want nothing left", stored.MFA)
			}
			want := []string{twoStepOffSubject}
			if r.recoveryCode != "" {
				want = []string{recoveryUsedSubject, twoStepOffSubject}
			}
			if got := f.subjects(t)[mailBefore:]; !slices.Equal(got, want) {
				t.Errorf("emails %q, want %q", got, want)
			}
			if events := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventMFADisabled}}); len(events) != 1 {
				t.Errorf("mfa_disabled events = %+v, want one", events)
			}
			pair, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop)
			if err != nil || !slices.Equal(f.claims(t, pair).AMR, []string{"pwd"}) {
				t.Errorf("login once it is off = %v, want tokens for the password alone", err)
			}
		})
	}
	t.Run("not on", func(t *testing.T) {
		f := newFixture(t)
		f.activeUser(t)
		err := f.svc.DisableTOTP(context.Background(), f.claims(t, f.login(t)), astro.Password, "123456", "", laptop)
		if !errors.Is(err, domain.ErrMFANotEnabled) {
			t.Errorf("DisableTOTP without two-step login = %v, want mfa_not_enabled", err)
		}
	})
}

// TestSensitiveActionsNeedARecentSecondFactor: changing the password,
// deleting the account and new recovery codes need a second factor from
// the last 10 minutes, the session's or a code sent with the request.
func TestSensitiveActionsNeedARecentSecondFactor(t *testing.T) {
	actions := []struct {
		name string
		do   func(f *fixture, claims domain.Claims, code string) error
		// done reports whether the action took effect.
		done func(t *testing.T, f *fixture, before domain.User) bool
	}{
		{"change the password", func(f *fixture, claims domain.Claims, code string) error {
			return f.svc.ChangePassword(context.Background(), claims, astro.Password, "AnotherStrongPass!42", false, code, laptop)
		}, func(t *testing.T, f *fixture, before domain.User) bool {
			return f.astroNow(t).PasswordHash != before.PasswordHash
		}},
		{"delete the account", func(f *fixture, claims domain.Claims, code string) error {
			return f.svc.DeleteAccount(context.Background(), claims, astro.Password, code, laptop)
		}, func(t *testing.T, f *fixture, before domain.User) bool {
			_, err := f.users.UserByID(context.Background(), before.ID)
			return errors.Is(err, domain.ErrUserNotFound)
		}},
		{"new recovery codes", func(f *fixture, claims domain.Claims, code string) error {
			_, err := f.svc.NewRecoveryCodes(context.Background(), claims, code, laptop)
			return err
		}, func(t *testing.T, f *fixture, before domain.User) bool {
			return !slices.EqualFunc(f.astroNow(t).MFA.RecoveryCodes, before.MFA.RecoveryCodes, bytes.Equal)
		}},
	}
	// A session whose login gave a second factor, or one whose login did
	// not: the password-only login that turned two-step login on is 11
	// minutes old when the action comes, past its own confirmation.
	withCode := func(t *testing.T, f *fixture, e enrolled) domain.Claims {
		pair, err := f.loginWithCode(t, f.code(e.app, 0))
		if err != nil {
			t.Fatal(err)
		}
		return f.claims(t, pair)
	}
	stale := func(t *testing.T, f *fixture, e enrolled) domain.Claims {
		f.clock.Advance(11 * time.Minute)
		return domain.Claims{UserID: f.astroNow(t).ID, SessionID: f.sessionOf(t, e.pair)}
	}
	situations := []struct {
		name    string
		session func(t *testing.T, f *fixture, e enrolled) domain.Claims
		after   time.Duration
		code    func(f *fixture, e enrolled) string
		want    error
	}{
		{"the session's second factor, 9 min 59 s old", withCode, 10*time.Minute - time.Second, nil, nil},
		{"the session's second factor, 10 min 1 s old", withCode, 10*time.Minute + time.Second, nil, domain.ErrMFAStepUpRequired},
		{"a session without one, and no code", stale, 0, nil, domain.ErrMFAStepUpRequired},
		{"a session without one, and a current code", stale, 0, func(f *fixture, e enrolled) string { return f.code(e.app, 0) }, nil},
		{"an old second factor, and a current code", withCode, 10*time.Minute + time.Second, func(f *fixture, e enrolled) string { return f.code(e.app, 0) }, nil},
		{"a session without one, and a wrong code", stale, 0, func(f *fixture, e enrolled) string { return otherDigits("", e.app, f) }, domain.ErrInvalidMFACode},
		{"a session without one, and a recovery code as the code", stale, 0, func(f *fixture, e enrolled) string { return e.recovery[0] }, domain.ErrInvalidMFACode},
		{"a session without one, and the code its login used", withCode, 10*time.Minute + time.Second, func(f *fixture, e enrolled) string {
			return f.code(e.app, -20) // the login's step, 20 steps ago: used and out of the window
		}, domain.ErrInvalidMFACode},
	}
	for _, a := range actions {
		for _, s := range situations {
			t.Run(a.name+" with "+s.name, func(t *testing.T) {
				f := newFixture(t)
				e := f.enrol(t)
				claims := s.session(t, f, e)
				f.clock.Advance(s.after)
				var code string
				if s.code != nil {
					code = s.code(f, e)
				}
				before := f.astroNow(t)
				err := a.do(f, claims, code)
				if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
					t.Fatalf("%s = %v, want %v", a.name, err, s.want)
				}
				if done := a.done(t, f, before); done != (s.want == nil) {
					t.Errorf("done = %v with %v", done, err)
				}
			})
		}
	}
}

// TestAStepUpCodeCountsForTheSession: a code sent with one sensitive action
// lets the session do the next without one, for 10 minutes.
func TestAStepUpCodeCountsForTheSession(t *testing.T) {
	f := newFixture(t)
	e := f.enrol(t)
	ctx := context.Background()
	f.clock.Advance(11 * time.Minute)
	claims := domain.Claims{UserID: f.astroNow(t).ID, SessionID: f.sessionOf(t, e.pair)}
	if _, err := f.svc.NewRecoveryCodes(ctx, claims, "", laptop); !errors.Is(err, domain.ErrMFAStepUpRequired) {
		t.Fatalf("without a code = %v, want mfa_step_up_required", err)
	}
	if _, err := f.svc.NewRecoveryCodes(ctx, claims, f.code(e.app, 0), laptop); err != nil {
		t.Fatalf("with a current code = %v", err)
	}
	f.clock.Advance(9 * time.Minute)
	if err := f.svc.ChangePassword(ctx, claims, astro.Password, "AnotherStrongPass!42", false, "", laptop); err != nil {
		t.Errorf("9 minutes after the code, without one = %v, want the change", err)
	}
}

// TestAPasswordResetKeepsTheSecondFactor: who can read the owner's email
// can reset the password, but login still asks for the second factor.
func TestAPasswordResetKeepsTheSecondFactor(t *testing.T) {
	f := newFixture(t)
	e := f.enrol(t)
	ctx := context.Background()
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	const newPassword = "Another-Long-Password-42"
	if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(f.lastResetCode(t)), newPassword, laptop); err != nil {
		t.Fatal(err)
	}
	if stored := f.astroNow(t); !stored.MFA.Enabled() || len(stored.MFA.RecoveryCodes) != domain.RecoveryCodeCount {
		t.Errorf("after the reset, MFA = %+v, want it on with every recovery code", stored.MFA)
	}
	_, err := f.svc.Login(ctx, astro.Email, newPassword, laptop)
	var mfa *domain.Error
	if !errors.As(err, &mfa) || mfa.Code != domain.CodeMFARequired {
		t.Fatalf("login with the new password = %v, want mfa_required", err)
	}
	if _, err := f.svc.LoginMFA(ctx, mfa.MFAToken, f.code(e.app, 0), "", laptop); err != nil {
		t.Errorf("the second step after the reset = %v", err)
	}
}

// TestWrongPasswordsAnswerAsWithoutTwoStepLogin: someone without the
// password learns nothing of the second factor: the answer, its work and
// the audit log are those of an account without one.
func TestWrongPasswordsAnswerAsWithoutTwoStepLogin(t *testing.T) {
	attempt := func(t *testing.T, f *fixture, email string) (*domain.Error, int) {
		t.Helper()
		before := f.hasher.verifies
		pair, err := f.svc.Login(context.Background(), email, "WrongPassword1!", laptop)
		var e *domain.Error
		if !errors.As(err, &e) || pair != (ports.TokenPair{}) {
			t.Fatalf("wrong password = %v with %+v", err, pair)
		}
		return e, f.hasher.verifies - before
	}
	plain := newFixture(t)
	plain.activeUser(t)
	plainErr, plainWork := attempt(t, plain, astro.Email)

	f := newFixture(t)
	f.enrol(t)
	mfaErr, mfaWork := attempt(t, f, astro.Email)
	if mfaErr.Code != domain.CodeInvalidCredentials || mfaErr.Message != plainErr.Message || mfaErr.MFAToken != "" ||
		mfaErr.Methods != nil || mfaErr.RetryAfter != plainErr.RetryAfter || mfaWork != plainWork {
		t.Errorf("wrong password with two-step login = %+v after %d verifications; without = %+v after %d",
			mfaErr, mfaWork, plainErr, plainWork)
	}
	failures := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventLoginFailed}})
	if len(failures) != 1 || failures[0].Reason != domain.ReasonWrongPassword {
		t.Errorf("failed-login events = %+v, want one for a wrong password", failures)
	}
	// A disabled account says so only to the right password, before any
	// second step.
	f.update(t, func(u *domain.User) { u.Disable(f.clock.Now()) })
	if e, _ := attempt(t, f, astro.Email); e.Code != domain.CodeInvalidCredentials {
		t.Errorf("wrong password on a disabled account = %v", e)
	}
	if _, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountDisabled) {
		t.Errorf("right password on a disabled account = %v, want account_disabled", err)
	}
}

// TestDisabledBetweenTheSteps: an account disabled after its password was
// given gets no tokens from the second step.
func TestDisabledBetweenTheSteps(t *testing.T) {
	f := newFixture(t)
	e := f.enrol(t)
	token := f.mfaToken(t)
	f.update(t, func(u *domain.User) { u.Disable(f.clock.Now()) })
	if _, err := f.svc.LoginMFA(context.Background(), token, f.code(e.app, 0), "", laptop); !errors.Is(err, domain.ErrAccountDisabled) {
		t.Errorf("second step of a disabled account = %v, want account_disabled", err)
	}
}

// TestTheSecondStepIsAudited: a wrong code is a failed login with its own
// reason, a right one the login.
func TestTheSecondStepIsAudited(t *testing.T) {
	f := newFixture(t)
	e := f.enrol(t)
	ctx := context.Background()
	token := f.mfaToken(t)
	if _, err := f.svc.LoginMFA(ctx, token, otherDigits("", e.app, f), "", laptop); !errors.Is(err, domain.ErrInvalidMFACode) {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginMFA(ctx, token, f.code(e.app, 0), "", laptop); err != nil {
		t.Fatal(err)
	}
	events := f.events(t, ports.AuditQuery{UserID: f.astroNow(t).ID})
	got := typesOf(events)
	want := []domain.EventType{domain.EventSignup, domain.EventActivation, domain.EventLogin, domain.EventMFAEnabled, domain.EventLoginFailed, domain.EventLogin}
	if !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if failed := events[4]; failed.Reason != domain.ReasonWrongMFACode || failed.IP != laptop.IP {
		t.Errorf("failed login = %+v, want reason %s from the laptop", failed, domain.ReasonWrongMFACode)
	}
}

// TestWrongCodesCountLikeWrongPasswords: a wrong second factor is a failed
// login for the slow-down and the lockout, and the right password that
// came before it does not wipe the count, or whoever holds the password
// could guess codes without end by logging in again every few guesses.
func TestWrongCodesCountLikeWrongPasswords(t *testing.T) {
	ctx := context.Background()
	attacker := from("198.51.100.66")

	t.Run("the slow-down", func(t *testing.T) {
		// Without two-step login, six wrong passwords from one client make
		// the seventh attempt wait a second (TestLoginSlowsDownPerAccountAndClient);
		// with it, the right password and five wrong codes do the same.
		f := newFixture(t)
		e := f.enrol(t)
		token := f.mfaRequired(t, attacker).MFAToken
		wrong := otherDigits("", e.app, f)
		for i := 1; i <= domain.MaxChallengeFailures; i++ {
			if _, err := f.svc.LoginMFA(ctx, token, wrong, "", attacker); !errors.Is(err, domain.ErrInvalidMFACode) {
				t.Fatalf("wrong code %d = %v", i, err)
			}
		}
		_, err := f.svc.Login(ctx, astro.Email, astro.Password, attacker)
		if got := retryAfter(t, err); got != time.Second {
			t.Errorf("wait after the password and five wrong codes = %v, want 1s", got)
		}
		// The owner, elsewhere, is not slowed down.
		if _, err := f.loginWithCode(t, f.code(e.app, 0)); err != nil {
			t.Errorf("the owner's login from another client = %v", err)
		}
	})

	t.Run("the lockout", func(t *testing.T) {
		// An attacker with the password and endless addresses logs in
		// again before each mfa_token runs out: every 10 failures in a
		// row lock the account all the same.
		f := newFixture(t)
		e := f.enrol(t)
		wrong := otherDigits("", e.app, f)
		guesses, n := 0, 0
		next := func() domain.Client { n++; return from(fmt.Sprintf("203.0.113.%d", n)) }
	attack:
		for range 10 {
			_, err := f.svc.Login(ctx, astro.Email, astro.Password, next())
			var mfa *domain.Error
			switch {
			case errors.Is(err, domain.ErrAccountLocked):
				break attack
			case !errors.As(err, &mfa) || mfa.Code != domain.CodeMFARequired:
				t.Fatalf("login = %v, want mfa_required", err)
			}
			for range domain.MaxChallengeFailures - 1 {
				_, err := f.svc.LoginMFA(ctx, mfa.MFAToken, wrong, "", next())
				if errors.Is(err, domain.ErrAccountLocked) {
					break attack
				}
				if !errors.Is(err, domain.ErrInvalidMFACode) {
					t.Fatalf("wrong code = %v", err)
				}
				guesses++
			}
		}
		// Two logins and eight wrong codes are ten failures in a row.
		if want := 8; guesses != want {
			t.Fatalf("the account locked after %d wrong codes, want %d", guesses, want)
		}
		if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountLocked) {
			t.Errorf("the owner's login during the lock = %v, want account_locked", err)
		}
		if got := f.subjects(t); got[len(got)-1] != unlockSubject {
			t.Errorf("emails %q, want the unlock link last", got)
		}
	})

	t.Run("the lockout through turning it off", func(t *testing.T) {
		// Whoever holds a session and the password guesses codes to turn
		// two-step login off: each request's password does not wipe the
		// count of the codes before it.
		f := newFixture(t)
		e := f.enrol(t)
		claims := f.claims(t, e.pair)
		wrong := otherDigits("", e.app, f)
		n := 0
		for ; n < 20; n++ {
			err := f.svc.DisableTOTP(ctx, claims, astro.Password, wrong, "", from(fmt.Sprintf("203.0.113.%d", n)))
			if errors.Is(err, domain.ErrAccountLocked) {
				break
			}
			if !errors.Is(err, domain.ErrInvalidMFACode) {
				t.Fatalf("request %d = %v", n+1, err)
			}
		}
		// Each request is two attempts, its password and its code.
		if want := 5; n != want {
			t.Errorf("the account locked after %d requests, want %d", n, want)
		}
		if !f.astroNow(t).MFA.Enabled() {
			t.Error("two-step login is off")
		}
	})

	t.Run("a right second factor ends the run", func(t *testing.T) {
		f := newFixture(t)
		e := f.enrol(t)
		token := f.mfaRequired(t, attacker).MFAToken
		for range domain.MaxChallengeFailures - 1 {
			if _, err := f.svc.LoginMFA(ctx, token, otherDigits("", e.app, f), "", attacker); !errors.Is(err, domain.ErrInvalidMFACode) {
				t.Fatal(err)
			}
		}
		if _, err := f.svc.LoginMFA(ctx, token, f.code(e.app, 0), "", attacker); err != nil {
			t.Fatalf("the right code = %v", err)
		}
		// Five free failures again, as after any successful login.
		for i := 1; i <= 6; i++ {
			if _, err := f.svc.Login(ctx, astro.Email, "wrong-password", attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Fatalf("after the login, failure %d = %v; the run did not end", i, err)
			}
		}
	})

	t.Run("a session's recent second factor ends the password's attempt", func(t *testing.T) {
		// The password of a change confirmed by the session's second
		// factor is no failure: changes do not add up to a lock.
		f := newFixture(t)
		f.svc.cfg.Limits.Login.LockAfter = 3
		e := f.enrol(t)
		pair, err := f.loginWithCode(t, f.code(e.app, 0))
		if err != nil {
			t.Fatal(err)
		}
		claims := f.claims(t, pair)
		passwords := []string{astro.Password, "Another-Long-Password-1", "Another-Long-Password-2", "Another-Long-Password-3", "Another-Long-Password-4"}
		for i := range len(passwords) - 1 {
			if err := f.svc.ChangePassword(ctx, claims, passwords[i], passwords[i+1], false, "", laptop); err != nil {
				t.Fatalf("change %d = %v", i+1, err)
			}
		}
		_, err = f.svc.Login(ctx, astro.Email, passwords[len(passwords)-1], laptop)
		if !errors.Is(err, domain.ErrMFARequired) {
			t.Errorf("login after the changes = %v, want mfa_required", err)
		}
	})
}
