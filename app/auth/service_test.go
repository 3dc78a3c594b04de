package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/adapters/otp"
	"authapi/adapters/postgres"
	"authapi/adapters/ratelimit"
	"authapi/adapters/sealer"
	"authapi/adapters/sqlite"
	"authapi/app/emails"
	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

var start = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// The use cases run on the real SQLite store, in a database file of each
// test's own: it is fast enough, and it is what the service runs on. Only
// the slow or outward-facing ports (hashing, tokens, mail, time) are fakes.
type fixture struct {
	svc *Service
	// db says how to reach the database straight, as a tool would.
	db       toolAccess
	users    testStore
	throttle ports.LoginThrottle
	hasher   *fakeHasher
	tokens   *fakeTokens
	mail     *countingNotifier
	clock    *testkit.Clock
	log      *testkit.Buffer
	limits   *ratelimit.Memory
	// passwords is the password policy; it accepts every password unless
	// told to reject one.
	passwords *fakePolicy
}

// testCodeKey is the code key of the use case tests.
var testCodeKey = func() domain.CodeKey {
	k, err := domain.NewCodeKey([]byte("the use case tests' server secret"))
	if err != nil {
		panic(err)
	}
	return k
}()

// testEmails are the built-in email templates.
var testEmails = func() *emails.Templates {
	t, err := emails.Load(nil, emails.Brand{ProductName: "authapi"})
	if err != nil {
		panic(err)
	}
	return t
}()

// The subjects of the built-in templates, by which the tests tell emails
// apart.
const (
	activationSubject = "Your activation code"
	resetSubject      = "Reset your password"
	changedSubject    = "Your password was changed"
	unlockSubject     = "Your account was locked"
	deletedSubject    = "Your account was deleted"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		hasher: &fakeHasher{},
		tokens: newFakeTokens(),
		mail:   &countingNotifier{},
		clock:  testkit.NewClock(start),
		log:    &testkit.Buffer{},
		limits: ratelimit.NewMemory(0, nil),

		passwords: &fakePolicy{},
	}
	f.db, f.users, f.throttle = openTestStore(t)
	public, _ := url.Parse("https://auth.example.com/base")
	svc, err := NewService(Deps{
		Users:    f.users,
		Sessions: f.users,
		Limiter:  f.limits,
		Throttle: f.throttle,
		Hasher:   f.hasher,
		Tokens:   f.tokens,
		Mail:     f.mail,
		Clock:    f.clock,
		Random:   &countingRandom{},
		Logger:   slog.New(slog.NewTextHandler(f.log, nil)),

		Passwords: f.passwords,
		Audit:     f.users,

		Authenticator: otp.Authenticator{},
		Sealer:        testSealer,
		Challenges:    f.users,
		Passkeys:      f.users,
		RelyingParty:  testRelyingParty(t),
	}, Config{ActivationCodeTTL: time.Hour, PublicURL: public, CodeKey: testCodeKey, SessionTTL: 720 * time.Hour, ReuseInterval: 10 * time.Second,
		Limits: DefaultLimits(), PasswordResetTTL: 15 * time.Minute, Emails: testEmails, TOTPIssuer: "Astrodesk"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// testStore is the store the use cases run on.
type testStore interface {
	ports.UserStore
	ports.SessionStore
	ports.Outbox
	ports.AuditLog
	ports.ChallengeStore
	ports.PasskeyStore
}

// testSealer seals the use case tests' authenticator secrets.
var testSealer = func() *sealer.Sealer {
	s, err := sealer.New(bytes.Repeat([]byte{7}, 32), rand.Reader)
	if err != nil {
		panic(err)
	}
	return s
}()

// toolAccess is a database/sql driver and data source that reach the test's
// database straight.
type toolAccess struct{ driver, source string }

// openTestStore opens a migrated store of the test's own: a SQLite file, or
// a PostgreSQL schema when the suite runs on PostgreSQL.
func openTestStore(t *testing.T) (toolAccess, testStore, ports.LoginThrottle) {
	t.Helper()
	if testkit.OnPostgres() {
		url := testkit.Postgres(t)
		db, err := postgres.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return toolAccess{"pgx", url}, postgres.NewStore(db), postgres.NewThrottle(db)
	}
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.NewStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return toolAccess{"sqlite", "file:" + path + "?_pragma=busy_timeout(5000)"}, store, sqlite.NewThrottle(db)
}

func TestMain(m *testing.M) { testkit.Main(m) }

var astro = ports.SignupRequest{
	Email: "Astro.User@Example.com", Password: "StrongPassword123!", FirstName: "Astro", LastName: "User",
}

var laptop = domain.Client{IP: "192.0.2.10", Source: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}

var (
	codeInMail = regexp.MustCompile(`activation code is (\d{6})`)
	linkInMail = regexp.MustCompile(`https://\S+`)
)

// signup registers astro and returns the activation code from the email.
func (f *fixture) signup(t *testing.T) string {
	t.Helper()
	if _, err := f.svc.Signup(context.Background(), astro, laptop); err != nil {
		t.Fatalf("signup: %v", err)
	}
	return f.lastCode(t)
}

// queued returns the pending mail in the order it was queued. No dispatcher
// runs here, so every message is due when it was queued: queued claims them
// all and hands each back for that time, leaving the outbox as it was.
func (f *fixture) queued(t *testing.T) []ports.QueuedMail {
	t.Helper()
	ctx := context.Background()
	mail, err := f.users.ClaimMail(ctx, start.Add(1000*time.Hour), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mail {
		if err := f.users.RescheduleMail(ctx, m.ID, m.QueuedAt); err != nil {
			t.Fatal(err)
		}
	}
	return mail
}

func (f *fixture) lastMail(t *testing.T) ports.QueuedMail {
	t.Helper()
	mail := f.queued(t)
	if len(mail) == 0 {
		t.Fatal("no mail queued")
	}
	return mail[len(mail)-1]
}

func (f *fixture) lastCode(t *testing.T) string {
	t.Helper()
	text := f.lastMail(t).Text
	m := codeInMail.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no activation code in email %q", text)
	}
	return m[1]
}

// update changes astro's stored account directly, as an operator would.
func (f *fixture) update(t *testing.T, change func(*domain.User)) {
	t.Helper()
	_, err := f.users.UpdateUser(context.Background(), ports.UserEmail("astro.user@example.com"), func(u *domain.User) (ports.Effects, error) {
		change(u)
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) activeUser(t *testing.T) {
	t.Helper()
	code := f.signup(t)
	if err := f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(code), laptop); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestSignup(t *testing.T) {
	f := newFixture(t)
	user, err := f.svc.Signup(context.Background(), astro, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if user.Email != "astro.user@example.com" || user.Active || user.FirstName != "Astro" || !user.CreatedAt.Equal(start) {
		t.Errorf("user = %+v", user)
	}
	stored, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatalf("user not stored: %v", err)
	}
	if stored.PasswordHash != "fake$StrongPassword123!" {
		t.Errorf("stored password hash = %q", stored.PasswordHash)
	}
	queued := f.queued(t)
	if len(queued) != 1 || f.mail.wakeups != 1 {
		t.Fatalf("queued %d emails with %d wake-ups, want 1 and 1", len(queued), f.mail.wakeups)
	}
	msg := queued[0]
	code := f.lastCode(t)
	link := linkInMail.FindString(msg.Text)
	if msg.To != "astro.user@example.com" || !strings.HasPrefix(link, "https://auth.example.com/base/activate?email=astro.user%40example.com&token=") ||
		strings.Contains(link, code) || !strings.Contains(msg.HTML, code) {
		t.Errorf("email to %q with text %q: want a link to the activation page with a token, not the code, and the code in both bodies", msg.To, msg.Text)
	}
	if msg.ID == "" || msg.Slot != "activation:"+user.ID || !msg.ExpiresAt.Equal(start.Add(time.Hour)) || !msg.QueuedAt.Equal(start) {
		t.Errorf("queued mail = id %q slot %q expires %v queued %v", msg.ID, msg.Slot, msg.ExpiresAt, msg.QueuedAt)
	}
	if !strings.Contains(msg.Text, "expires in 1 hour") {
		t.Errorf("email does not state the lifetime: %q", msg.Text)
	}
	if strings.Contains(f.log.String(), code) || strings.Contains(f.log.String(), astro.Password) {
		t.Errorf("log leaks a secret: %s", f.log.String())
	}
}

// TestConcealedSignupDoesTheSameWork: with accounts concealed, a signup for
// a taken address costs what a new signup costs, a password hash and one
// queued email, so that neither the answer nor its timing tells the two
// apart; the account itself is left as it was.
func TestConcealedSignupDoesTheSameWork(t *testing.T) {
	work := func(t *testing.T, f *fixture, req ports.SignupRequest) (hashes, mails int) {
		t.Helper()
		hashesBefore, mailsBefore := f.hasher.hashes, len(f.queued(t))
		if _, err := f.svc.Signup(context.Background(), req, laptop); err != nil {
			t.Fatalf("signup %s: %v", req.Email, err)
		}
		return f.hasher.hashes - hashesBefore, len(f.queued(t)) - mailsBefore
	}
	f := newFixture(t)
	f.svc.cfg.ConcealAccounts = true
	f.activeUser(t)
	before, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatal(err)
	}

	fresh := astro
	fresh.Email = "someone.new@example.com"
	freshHashes, freshMails := work(t, f, fresh)
	takenHashes, takenMails := work(t, f, astro)
	if freshHashes != 1 || takenHashes != freshHashes || takenMails != freshMails {
		t.Errorf("a new signup took %d hashes and %d emails, one for a taken address %d and %d; want 1 and 1 for both",
			freshHashes, freshMails, takenHashes, takenMails)
	}
	after, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if after.PasswordHash != before.PasswordHash || !after.Active {
		t.Errorf("the concealed signup changed the account: %+v", after)
	}
}

func TestSignupRejections(t *testing.T) {
	tests := []struct {
		name string
		req  ports.SignupRequest
		want error
	}{
		{"invalid input", ports.SignupRequest{Email: "x"}, domain.ErrValidation},
		{"duplicate email in another case", ports.SignupRequest{
			Email: " ASTRO.user@example.COM", Password: "AnotherPassword1", FirstName: "A", LastName: "B"}, domain.ErrEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.signup(t)
			hashesBefore := f.hasher.hashes
			_, err := f.svc.Signup(context.Background(), tt.req, laptop)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if n := len(f.queued(t)); n != 1 {
				t.Errorf("queued %d emails, want only the first signup's", n)
			}
			if f.hasher.hashes != hashesBefore {
				t.Errorf("rejected signup did hashing work")
			}
		})
	}
}

// TestConcurrentSignupsOfOneEmail checks that a burst of signups of one
// address costs one password hash: the rest wait their turn and are refused.
func TestConcurrentSignupsOfOneEmail(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.Limits = Limits{Login: domain.DefaultLoginPolicy()}
	f.hasher.delay = 20 * time.Millisecond
	const racers = 20
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { _, errs[i] = f.svc.Signup(context.Background(), astro, laptop) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, domain.ErrEmailTaken):
			t.Errorf("signup %d: %v, want success or ErrEmailTaken", i, err)
		}
	}
	if created != 1 || f.hasher.hashes != 1 {
		t.Errorf("%d accounts created with %d password hashes, want 1 and 1", created, f.hasher.hashes)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture, code string) (email, try string)
		want  error
	}{
		{"right code", func(t *testing.T, f *fixture, code string) (string, string) {
			return astro.Email, code
		}, nil},
		{"email in other case and spaces around code", func(t *testing.T, f *fixture, code string) (string, string) {
			return " ASTRO.USER@example.com ", " " + code + " "
		}, nil},
		{"wrong code", func(t *testing.T, f *fixture, code string) (string, string) {
			return astro.Email, wrong(code)
		}, domain.ErrInvalidCode},
		{"expired code", func(t *testing.T, f *fixture, code string) (string, string) {
			f.clock.Advance(time.Hour)
			return astro.Email, code
		}, domain.ErrCodeExpired},
		{"exhausted by five wrong attempts", func(t *testing.T, f *fixture, code string) (string, string) {
			for i := 0; i < domain.MaxActivationAttempts; i++ {
				if err := f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(wrong(code)), laptop); !errors.Is(err, domain.ErrInvalidCode) {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			return astro.Email, code
		}, domain.ErrCodeExhausted},
		{"already active", func(t *testing.T, f *fixture, code string) (string, string) {
			if err := f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(code), laptop); err != nil {
				t.Fatal(err)
			}
			return astro.Email, code
		}, domain.ErrAlreadyActive},
		{"unknown email", func(t *testing.T, f *fixture, code string) (string, string) {
			return "nobody@example.com", code
		}, domain.ErrUserNotFound},
		{"missing fields", func(t *testing.T, f *fixture, code string) (string, string) {
			return "", " "
		}, domain.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			code := f.signup(t)
			email, try := tt.setup(t, f, code)
			err := f.svc.Verify(context.Background(), email, domain.CodeProof(try), laptop)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			user, _ := f.users.UserByEmail(context.Background(), "astro.user@example.com")
			if wantActive := tt.want == nil || tt.want == domain.ErrAlreadyActive; user.Active != wantActive {
				t.Errorf("active = %v, want %v", user.Active, wantActive)
			}
		})
	}
}

func TestVerifyPersistsWrongAttempts(t *testing.T) {
	f := newFixture(t)
	code := f.signup(t)
	for i := 1; i <= 3; i++ {
		_ = f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(wrong(code)), laptop)
		user, _ := f.users.UserByEmail(context.Background(), "astro.user@example.com")
		if user.Activation.Attempts != i {
			t.Fatalf("after %d wrong codes the store counts %d", i, user.Activation.Attempts)
		}
	}
}

func TestResendActivation(t *testing.T) {
	f := newFixture(t)
	oldCode := f.signup(t)
	for i := 0; i < domain.MaxActivationAttempts; i++ {
		_ = f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(wrong(oldCode)), laptop)
	}
	f.clock.Advance(2 * time.Hour) // past the first code's expiry
	if err := f.svc.ResendActivation(context.Background(), "astro.user@EXAMPLE.com", laptop); err != nil {
		t.Fatal(err)
	}
	newCode := f.lastCode(t)
	if queued := f.queued(t); len(queued) != 1 {
		t.Fatalf("%d emails pending, want the new one to have superseded the unsent old one", len(queued))
	}
	if st, _ := f.users.MailStats(context.Background(), start); st.Superseded != 1 {
		t.Errorf("stats = %+v, want one superseded email", st)
	}
	if newCode == oldCode {
		t.Fatal("resend sent the same code")
	}
	if err := f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(oldCode), laptop); !errors.Is(err, domain.ErrInvalidCode) {
		t.Errorf("old code after resend = %v, want ErrInvalidCode", err)
	}
	if err := f.svc.Verify(context.Background(), astro.Email, domain.CodeProof(newCode), laptop); err != nil {
		t.Errorf("new code = %v, want success", err)
	}
}

func TestResendActivationRejections(t *testing.T) {
	tests := []struct {
		name     string
		activate bool
		email    string
		want     error
	}{
		{"unknown email", false, "nobody@example.com", domain.ErrUserNotFound},
		{"already active", true, astro.Email, domain.ErrAlreadyActive},
		{"missing email", false, "", domain.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.activate {
				f.activeUser(t)
			} else {
				f.signup(t)
			}
			queued := f.queued(t)
			if err := f.svc.ResendActivation(context.Background(), tt.email, laptop); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if after := f.queued(t); len(after) != len(queued) || after[len(after)-1].ID != queued[len(queued)-1].ID {
				t.Error("an email was queued")
			}
		})
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair, err := f.svc.Login(context.Background(), " astro.user@EXAMPLE.com", astro.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	access, err := f.tokens.Verify(pair.Access.Token, domain.AccessToken, start)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	refresh, err := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, start)
	if err != nil {
		t.Fatalf("refresh token: %v", err)
	}
	user, _ := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if access.UserID != user.ID || refresh.UserID != user.ID {
		t.Errorf("tokens for %q and %q, want %q", access.UserID, refresh.UserID, user.ID)
	}
	if pair.Access.ExpiresIn != 15*time.Minute || pair.Refresh.ExpiresIn != 720*time.Hour {
		t.Errorf("expires in %v and %v", pair.Access.ExpiresIn, pair.Refresh.ExpiresIn)
	}
}

func TestLoginRejections(t *testing.T) {
	tests := []struct {
		name     string
		activate bool
		email    string
		password string
		want     error
	}{
		{"wrong password", true, astro.Email, "WrongPassword123!", domain.ErrInvalidCredentials},
		{"unknown email", true, "nobody@example.com", astro.Password, domain.ErrInvalidCredentials},
		{"inactive with right password", false, astro.Email, astro.Password, domain.ErrAccountNotActive},
		// Someone without the password must not learn that the account is inactive.
		{"inactive with wrong password", false, astro.Email, "WrongPassword123!", domain.ErrInvalidCredentials},
		{"missing password", true, astro.Email, "", domain.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.activate {
				f.activeUser(t)
			} else {
				f.signup(t)
			}
			pair, err := f.svc.Login(context.Background(), tt.email, tt.password, laptop)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if pair != (ports.TokenPair{}) {
				t.Errorf("tokens issued on failure: %+v", pair)
			}
		})
	}
}

func TestLoginUnknownEmailCostsOneVerification(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	before := f.hasher.verifies
	if _, err := f.svc.Login(context.Background(), "nobody@example.com", "whatever12", laptop); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if got := f.hasher.verifies - before; got != 1 {
		t.Errorf("unknown email cost %d verifications, want 1 like a known email", got)
	}
	before = f.hasher.verifies
	if _, err := f.svc.Login(context.Background(), astro.Email, "whatever12", laptop); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if got := f.hasher.verifies - before; got != 1 {
		t.Errorf("known email cost %d verifications, want 1", got)
	}
}

func TestRefresh(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	refreshed, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.Refresh.Token != "" {
		t.Error("a refresh token was issued with rotation off")
	}
	access := refreshed.Access
	claims, err := f.svc.Authenticate(context.Background(), access.Token)
	if err != nil {
		t.Fatalf("refreshed access token rejected: %v", err)
	}
	if !claims.IssuedAt.Equal(start.Add(time.Hour)) || access.ExpiresIn != 15*time.Minute {
		t.Errorf("claims %+v, expires in %v", claims, access.ExpiresIn)
	}
}

func TestRefreshRejections(t *testing.T) {
	tests := []struct {
		name  string
		token func(t *testing.T, f *fixture, pair ports.TokenPair) string
	}{
		{"access token in place of refresh token", func(t *testing.T, f *fixture, pair ports.TokenPair) string { return pair.Access.Token }},
		{"garbage", func(t *testing.T, f *fixture, pair ports.TokenPair) string { return "not-a-token" }},
		{"expired", func(t *testing.T, f *fixture, pair ports.TokenPair) string {
			f.clock.Advance(721 * time.Hour)
			return pair.Refresh.Token
		}},
		// Deleting the account deletes its sessions with it.
		{"user no longer exists", func(t *testing.T, f *fixture, pair ports.TokenPair) string {
			if err := f.users.DeleteUser(context.Background(), f.userID(t), ports.Effects{}); err != nil {
				t.Fatal(err)
			}
			return pair.Refresh.Token
		}},
		// With rotation, the account is read on its own before the session
		// is locked: here the session is live and the token its own, and
		// only the account is missing, as when it goes between the two.
		{"user no longer exists, with rotation", func(t *testing.T, f *fixture, pair ports.TokenPair) string {
			f.svc.cfg.RotateRefreshTokens = true
			f.svc.users = missingUser{UserStore: f.users, id: f.userID(t)}
			return pair.Refresh.Token
		}},
		{"user disabled", func(t *testing.T, f *fixture, pair ports.TokenPair) string {
			// Straight in the store, without the revocation of sessions
			// that disabling an account brings: the account's own state
			// is checked too.
			f.update(t, func(u *domain.User) { u.DisabledAt = f.clock.Now() })
			return pair.Refresh.Token
		}},
		{"user not active", func(t *testing.T, f *fixture, pair ports.TokenPair) string {
			f.update(t, func(u *domain.User) { u.Active, u.ActivatedAt = false, time.Time{} })
			return pair.Refresh.Token
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			pair, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Refresh(context.Background(), tt.token(t, f, pair), laptop); !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestAuthenticateAndCurrentUser(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(context.Background(), pair.Refresh.Token); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("refresh token accepted as access token: %v", err)
	}
	claims, err := f.svc.Authenticate(context.Background(), pair.Access.Token)
	if err != nil {
		t.Fatal(err)
	}
	user, err := f.svc.CurrentUser(context.Background(), claims.UserID)
	if err != nil || user.Email != "astro.user@example.com" {
		t.Errorf("CurrentUser = %+v, %v", user, err)
	}
	if _, err := f.svc.CurrentUser(context.Background(), "gone"); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("CurrentUser of a deleted user = %v, want ErrInvalidToken", err)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{time.Hour, "1 hour"},
		{3 * time.Hour, "3 hours"},
		{15 * time.Minute, "15 minutes"},
		{90 * time.Minute, "90 minutes"},
		{45 * time.Second, "45 seconds"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.in); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// wrong returns a six-digit code that differs from code.
func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// missingUser is a user store in which the account with id cannot be read.
type missingUser struct {
	ports.UserStore
	id string
}

func (s missingUser) UserByID(ctx context.Context, id string) (domain.User, error) {
	if id == s.id {
		return domain.User{}, domain.ErrUserNotFound
	}
	return s.UserStore.UserByID(ctx, id)
}
