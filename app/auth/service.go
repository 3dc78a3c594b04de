// Package auth implements the authentication use cases (ports.AuthService)
// against the driven ports. It sits beside app rather than inside it so that
// app can import both it and the adapters, while adapters depend only on
// ports: Go forbids the cycle that would arise if the use cases lived in app.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"authapi/app/emails"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.AuthService = (*Service)(nil)

// Deps are the driven ports the use cases run on.
type Deps struct {
	Users    ports.UserStore
	Sessions ports.SessionStore
	Limiter  ports.RateLimiter
	Throttle ports.LoginThrottle
	Hasher   ports.PasswordHasher
	Tokens   ports.Tokens
	// Mail hears when mail has been queued, so delivery can start at once.
	Mail   ports.MailNotifier
	Clock  ports.Clock
	Random ports.Random
	Logger *slog.Logger
	// Passwords refuses passwords that are easy to guess.
	Passwords ports.PasswordPolicy
	// Audit keeps the security events that change nothing else, such as
	// a failed login; changes save theirs with themselves.
	Audit ports.AuditLog
	// Observer, if set, hears outcomes for metrics.
	Observer Observer
	// Authenticator, Sealer and Challenges serve two-step login: codes of
	// authenticator apps, secrets sealed at rest, and the second step of
	// a login, which any replica may finish.
	Authenticator ports.Authenticator
	Sealer        ports.Sealer
	Challenges    ports.ChallengeStore
	// Passkeys and RelyingParty serve passkeys (WebAuthn): the accounts'
	// credentials and the protocol's checks. Without a relying party the
	// ceremonies answer domain.ErrPasskeysOff.
	Passkeys     ports.PasskeyStore
	RelyingParty ports.RelyingParty
}

// Observer hears what the use cases did, for metrics. Its methods are called
// on the request path, so they must be cheap and safe for concurrent use.
type Observer interface {
	// LoginOutcome is "success" or the reason a login failed
	// (domain.ReasonWrongPassword and the others).
	LoginOutcome(outcome string)
	SignedUp()
	Refreshed(ok bool)
	// LimitRejected names the limit that refused a request.
	LimitRejected(limit string)
}

// Outcomes of logins besides the reasons of failures.
const (
	// LoginSucceeded is a login that started a session.
	LoginSucceeded = "success"
	// LoginNeedsSecondFactor is a right password of an account with a
	// second factor: the login goes on at POST /login/mfa.
	LoginNeedsSecondFactor = "mfa_required"
)

// noObserver hears nothing.
type noObserver struct{}

func (noObserver) LoginOutcome(string)  {}
func (noObserver) SignedUp()            {}
func (noObserver) Refreshed(bool)       {}
func (noObserver) LimitRejected(string) {}

// Config holds the settings of the use cases.
type Config struct {
	// ActivationCodeTTL is how long an activation code stays valid.
	ActivationCodeTTL time.Duration
	// PublicURL is where users reach the service; emailed links point to
	// its pages.
	PublicURL *url.URL
	// CodeKey is the secret that one-time codes and link tokens are hashed
	// under.
	CodeKey domain.CodeKey
	// SessionTTL is the absolute lifetime of a login session, which is also
	// the longest a refresh token can be used.
	SessionTTL time.Duration
	// RotateRefreshTokens makes every refresh return a new refresh token and
	// treat reuse of a replaced one as theft (RFC 9700, section 4.14.2).
	RotateRefreshTokens bool
	// ReuseInterval is how long a replaced refresh token is still honoured,
	// so that two tabs refreshing at once are not mistaken for theft.
	ReuseInterval time.Duration
	// Limits are the abuse limits.
	Limits Limits
	// PasswordResetTTL is how long a password reset code stays valid.
	PasswordResetTTL time.Duration
	// ForgotPasswordMinDuration is how long every answer to a forgotten
	// password takes at least, so that its timing does not tell whether the
	// email has an account; with ConcealAccounts, verify and resend answers
	// take as long.
	ForgotPasswordMinDuration time.Duration
	// ConcealAccounts makes signup, verify and resend answer alike for
	// addresses with and without an account, at the price of answers that
	// the API document does not describe for those cases.
	ConcealAccounts bool
	// Emails renders the emails the use cases send.
	Emails *emails.Templates
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer string
}

// Service implements ports.AuthService.
type Service struct {
	users    ports.UserStore
	sessions ports.SessionStore
	limiter  ports.RateLimiter
	throttle ports.LoginThrottle
	hasher   ports.PasswordHasher
	tokens   ports.Tokens
	mail     ports.MailNotifier
	clock    ports.Clock
	random   ports.Random
	log      *slog.Logger
	cfg      Config
	// passwords refuses passwords that are easy to guess.
	passwords     ports.PasswordPolicy
	audit         ports.AuditLog
	observe       Observer
	authenticator ports.Authenticator
	sealer        ports.Sealer
	challenges    ports.ChallengeStore
	passkeys      ports.PasskeyStore
	relyingParty  ports.RelyingParty

	// dummyHash is verified against when a login names an unknown email, so
	// that such a login costs the same hashing work as a real one. It is made
	// on first use rather than at start-up, which it would slow down.
	dummyMu   sync.Mutex
	dummyHash string

	// signups lets one signup per email address run at a time.
	signups keyLocks

	// sleep waits; tests replace it to move a manual clock instead.
	sleep func(ctx context.Context, d time.Duration)
}

// NewService returns the use cases wired to deps.
func NewService(deps Deps, cfg Config) (*Service, error) {
	switch {
	case deps.Users == nil, deps.Sessions == nil, deps.Limiter == nil, deps.Throttle == nil, deps.Hasher == nil, deps.Tokens == nil, deps.Mail == nil,
		deps.Clock == nil, deps.Random == nil, deps.Logger == nil, deps.Passwords == nil, deps.Audit == nil,
		deps.Authenticator == nil, deps.Sealer == nil, deps.Challenges == nil:
		return nil, errors.New("auth: every dependency is required")
	case cfg.ActivationCodeTTL <= 0:
		return nil, errors.New("auth: activation code TTL must be positive")
	case cfg.PublicURL == nil:
		return nil, errors.New("auth: public URL is required")
	case cfg.CodeKey.IsZero():
		return nil, errors.New("auth: the code key is required")
	case cfg.PasswordResetTTL <= 0, cfg.ForgotPasswordMinDuration < 0:
		return nil, errors.New("auth: password reset TTL must be positive and the forgot-password duration not negative")
	case cfg.SessionTTL <= 0, cfg.ReuseInterval < 0:
		return nil, errors.New("auth: session TTL must be positive and the reuse interval not negative")
	case cfg.TOTPIssuer == "":
		return nil, errors.New("auth: the TOTP issuer is required")
	case cfg.Emails == nil:
		return nil, errors.New("auth: the email templates are required")
	}
	cfg.Limits = cfg.Limits.Named()
	observer := deps.Observer
	if observer == nil {
		observer = noObserver{}
	}
	return &Service{
		observe:       observer,
		users:         deps.Users,
		sessions:      deps.Sessions,
		limiter:       deps.Limiter,
		throttle:      deps.Throttle,
		hasher:        deps.Hasher,
		tokens:        deps.Tokens,
		mail:          deps.Mail,
		clock:         deps.Clock,
		random:        deps.Random,
		log:           deps.Logger,
		cfg:           cfg,
		passwords:     deps.Passwords,
		audit:         deps.Audit,
		authenticator: deps.Authenticator,
		sealer:        deps.Sealer,
		challenges:    deps.Challenges,
		passkeys:      deps.Passkeys,
		relyingParty:  deps.RelyingParty,
		sleep:         sleepFor,
	}, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// Signup creates an inactive account and emails its activation code.
func (s *Service) Signup(ctx context.Context, req ports.SignupRequest, client domain.Client) (domain.User, error) {
	// The limit per source comes first, so that invalid and duplicate
	// requests count too; the limit per email needs a valid email first,
	// so that no client input of any size becomes limiter state.
	if err := s.take(ctx, s.now(), s.cfg.Limits.SignupPerSource, client.Source); err != nil {
		return domain.User{}, err
	}
	reg, err := domain.NewRegistration(req.Email, req.Password, req.FirstName, req.LastName)
	if err != nil {
		return domain.User{}, err
	}
	if err := s.take(ctx, s.now(), s.cfg.Limits.SignupPerEmail, string(reg.Email)); err != nil {
		return domain.User{}, err
	}
	if err := s.passwords.Check(reg.Password, passwordContext(reg)); err != nil {
		return domain.User{}, err
	}
	// Signups of one address take turns, so a burst of them (a double-clicked
	// form, a retrying client) costs one password hash rather than one each
	// and cannot fill the hashing queue that other users' logins wait in.
	// The cheap read below then answers every later one. The unique index
	// still decides between processes sharing the database.
	unlock, err := s.signups.lock(ctx, string(reg.Email))
	if err != nil {
		return domain.User{}, fmt.Errorf("wait for another signup of this email: %w", err)
	}
	defer unlock()
	existing, err := s.users.UserByEmail(ctx, reg.Email)
	switch {
	case err == nil && s.cfg.ConcealAccounts:
		return s.concealedSignup(ctx, reg, existing)
	case err == nil:
		return domain.User{}, domain.ErrEmailTaken
	case !errors.Is(err, domain.ErrUserNotFound):
		return domain.User{}, fmt.Errorf("look up email: %w", err)
	}
	hash, err := s.hasher.Hash(ctx, reg.Password)
	if err != nil {
		return domain.User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	id, err := domain.NewID(now, s.random)
	if err != nil {
		return domain.User{}, err
	}
	secrets, err := domain.GenerateCodeSecrets(s.random)
	if err != nil {
		return domain.User{}, err
	}
	user := domain.NewUser(id, reg, hash, s.cfg.CodeKey, secrets, now, s.cfg.ActivationCodeTTL)
	mail, err := s.activationMail(user, secrets, now)
	if err != nil {
		return domain.User{}, err
	}
	// The email is queued in the same transaction as the account, so neither
	// exists without the other, and a mail server outage cannot fail a signup.
	err = s.users.CreateUser(ctx, user, ports.Effects{
		Mail:   []ports.OutgoingMail{mail},
		Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventSignup, now, client).For(user.ID)},
	})
	if errors.Is(err, domain.ErrEmailTaken) && s.cfg.ConcealAccounts {
		// Another process signed the address up meanwhile.
		return s.fakeUser(reg, now)
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	s.mail.MailQueued()
	s.observe.SignedUp()
	return user, nil
}

// concealedSignup answers a signup for an address that has an account as a
// new signup is answered, after the same work (a password hash and a
// write), and tells the owner instead, who may have forgotten the account.
func (s *Service) concealedSignup(ctx context.Context, reg domain.Registration, owner domain.User) (domain.User, error) {
	if _, err := s.hasher.Hash(ctx, reg.Password); err != nil {
		return domain.User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	_, err := s.users.UpdateUser(ctx, ports.UserID(owner.ID), func(u *domain.User) (ports.Effects, error) {
		mail, err := s.signupAttemptMail(*u, now)
		return ports.Effects{Mail: []ports.OutgoingMail{mail}}, err
	})
	if err != nil && !errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, fmt.Errorf("tell the owner of a signup attempt: %w", err)
	}
	s.mail.MailQueued()
	return s.fakeUser(reg, now)
}

// fakeUser is the account a concealed signup reports: shaped like a new one,
// with an id that belongs to nothing.
func (s *Service) fakeUser(reg domain.Registration, now time.Time) (domain.User, error) {
	id, err := domain.NewID(now, s.random)
	if err != nil {
		return domain.User{}, err
	}
	return domain.User{ID: id, Email: reg.Email, FirstName: reg.FirstName, LastName: reg.LastName, CreatedAt: now, UpdatedAt: now}, nil
}

// Verify activates the account if the proof (code or link token) matches
// its pending activation code.
func (s *Service) Verify(ctx context.Context, email string, proof domain.Proof, client domain.Client) error {
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.VerifyPerSource, client.Source); err != nil {
		return err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return err
	}
	var v domain.Validation
	if proof.IsLink() {
		v.Require("token", proof.Secret())
	} else {
		v.Require("activation_code", proof.Secret())
	}
	if err := v.Err(); err != nil {
		return err
	}
	if s.cfg.ConcealAccounts {
		defer s.waitUntil(ctx, now.Add(s.cfg.ForgotPasswordMinDuration))
	}
	var wrongCode error
	_, err = s.users.UpdateUser(ctx, ports.UserEmail(normalized), func(u *domain.User) (ports.Effects, error) {
		err := u.Activate(s.cfg.CodeKey, proof, now)
		if errors.Is(err, domain.ErrInvalidCode) || errors.Is(err, domain.ErrCodeExhausted) || errors.Is(err, domain.ErrCodeExpired) {
			// Keep the counted attempt: the update must be saved for the
			// attempt limits to mean anything.
			wrongCode = err
			return ports.Effects{}, nil
		}
		if err != nil {
			return ports.Effects{}, err
		}
		return ports.Effects{Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventActivation, now, client).For(u.ID)}}, nil
	})
	if err == nil {
		err = wrongCode
	}
	if s.cfg.ConcealAccounts && err != nil && concealable(err) {
		// Every failure that depends on the account answers alike: one
		// that only an existing account can give (expired, used up,
		// already active) would tell that it exists.
		return errCodeConcealed
	}
	return err
}

// errCodeConcealed is every failure of /verify under ConcealAccounts.
var errCodeConcealed = &domain.Error{Code: domain.CodeInvalidCode,
	Message: "the code is wrong, expired or used up, or the account is already active; request a new code if you need one"}

// concealable reports whether err is an answer about the account, which
// ConcealAccounts hides, rather than about the request.
func concealable(err error) bool {
	for _, e := range []error{domain.ErrUserNotFound, domain.ErrInvalidCode, domain.ErrCodeExpired, domain.ErrCodeExhausted, domain.ErrAlreadyActive} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ResendActivation issues a new activation code and emails it.
func (s *Service) ResendActivation(ctx context.Context, email string, client domain.Client) error {
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.ResendPerSource, client.Source); err != nil {
		return err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return err
	}
	if err := s.take(ctx, now, s.cfg.Limits.CodesPerEmail, string(normalized)); err != nil {
		return err
	}
	if s.cfg.ConcealAccounts {
		defer s.waitUntil(ctx, now.Add(s.cfg.ForgotPasswordMinDuration))
	}
	secrets, err := domain.GenerateCodeSecrets(s.random)
	if err != nil {
		return err
	}
	_, err = s.users.UpdateUser(ctx, ports.UserEmail(normalized), func(u *domain.User) (ports.Effects, error) {
		if err := u.IssueActivationCode(s.cfg.CodeKey, secrets, now, s.cfg.ActivationCodeTTL); err != nil {
			return ports.Effects{}, err
		}
		// The new email replaces the old one if that is still queued: nobody
		// should receive a dead code after a live one.
		mail, err := s.activationMail(*u, secrets, now)
		return ports.Effects{Mail: []ports.OutgoingMail{mail}}, err
	})
	if s.cfg.ConcealAccounts && (errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrAlreadyActive)) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mail.MailQueued()
	return nil
}

// Login checks credentials and returns an access and a refresh token. A
// failure is recorded in the audit log with its reason, a success with the
// session it starts.
func (s *Service) Login(ctx context.Context, email, password string, client domain.Client) (ports.TokenPair, error) {
	var v domain.Validation
	v.Require("password", password)
	if err := v.Err(); err != nil {
		return ports.TokenPair{}, err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return ports.TokenPair{}, err
	}
	now := s.now()
	failed := domain.NewAuditEvent(domain.EventLoginFailed, now, client).Naming(email)
	pair, err := s.login(ctx, normalized, password, client, now, &failed)
	switch {
	case err == nil:
		s.observe.LoginOutcome(LoginSucceeded)
	case errors.Is(err, domain.ErrMFARequired):
		s.observe.LoginOutcome(LoginNeedsSecondFactor)
	case failed.Reason != "":
		s.observe.LoginOutcome(failed.Reason)
		s.record(ctx, failed)
	}
	return pair, err
}

// login is Login once the request is valid. When it fails for a reason the
// audit log keeps, it sets failed's reason, and the account if known.
func (s *Service) login(ctx context.Context, email domain.Email, password string, client domain.Client, now time.Time, failed *domain.AuditEvent) (ports.TokenPair, error) {
	// Admitted before any password work, and alike for addresses with and
	// without an account.
	attempt, err := s.admitLogin(ctx, email, client, now)
	switch {
	case errors.Is(err, domain.ErrAccountLocked):
		failed.Reason = domain.ReasonLocked
		return ports.TokenPair{}, err
	case errors.Is(err, domain.ErrTooManyRequests):
		failed.Reason = domain.ReasonLimited
		return ports.TokenPair{}, err
	case err != nil:
		return ports.TokenPair{}, err
	}
	user, err := s.users.UserByEmail(ctx, email)
	if errors.Is(err, domain.ErrUserNotFound) {
		if err := s.burnHashingWork(ctx, password); err != nil {
			return ports.TokenPair{}, err
		}
		failed.Reason = domain.ReasonUnknownEmail
		if attempt.Locks {
			// A campaign against an address without an account locks it
			// as it would an account; the log tells the operator.
			s.record(ctx, domain.NewAuditEvent(domain.EventLockout, now, client).Naming(failed.Email))
		}
		return ports.TokenPair{}, domain.ErrInvalidCredentials
	}
	if err != nil {
		return ports.TokenPair{}, fmt.Errorf("look up user: %w", err)
	}
	*failed = failed.For(user.ID)
	if err := s.checkPassword(ctx, user, password, attempt, client); err != nil {
		if errors.Is(err, domain.ErrInvalidCredentials) {
			failed.Reason = domain.ReasonWrongPassword
		}
		return ports.TokenPair{}, err
	}
	if err := user.CheckCanLogin(); err != nil {
		failed.Reason = domain.ReasonNotActive
		if errors.Is(err, domain.ErrAccountDisabled) {
			failed.Reason = domain.ReasonDisabled
		}
		return ports.TokenPair{}, err
	}
	s.rehash(ctx, user, password)
	if user.MFA.Enabled() {
		return ports.TokenPair{}, s.requireSecondFactor(ctx, user, []string{domain.AMRPassword}, true, now)
	}
	return s.startSession(ctx, user.ID, client, sessionProof{amr: []string{domain.AMRPassword}},
		domain.NewAuditEvent(domain.EventLogin, now, client).For(user.ID))
}

// record appends events that change nothing else to the audit log. The
// request they describe has happened either way, so a failure to record is
// logged, not reported to the client.
func (s *Service) record(ctx context.Context, events ...domain.AuditEvent) {
	if err := s.audit.Record(ctx, events...); err != nil {
		s.log.ErrorContext(ctx, "could not record security events", "events", len(events), "error", err)
	}
}

// Authenticate verifies an access token.
func (s *Service) Authenticate(_ context.Context, accessToken string) (domain.Claims, error) {
	return s.tokens.Verify(accessToken, domain.AccessToken, s.now())
}

// CurrentUser returns the account of an authenticated user.
func (s *Service) CurrentUser(ctx context.Context, userID string) (domain.User, error) {
	user, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, domain.ErrInvalidToken
	}
	return user, err
}

func (s *Service) issue(spec ports.TokenSpec, now time.Time) (ports.IssuedToken, domain.Claims, error) {
	token, claims, err := s.tokens.Issue(spec, now)
	if err != nil {
		return ports.IssuedToken{}, domain.Claims{}, fmt.Errorf("issue %s token: %w", spec.Kind, err)
	}
	return ports.IssuedToken{Token: token, ExpiresIn: claims.ExpiresAt.Sub(claims.IssuedAt)}, claims, nil
}

// burnHashingWork verifies password against a hash of a random secret, which
// never matches but costs what a real verification costs.
func (s *Service) burnHashingWork(ctx context.Context, password string) error {
	s.dummyMu.Lock()
	hash := s.dummyHash
	if hash == "" {
		var secret [32]byte
		if _, err := s.random.Read(secret[:]); err != nil {
			s.dummyMu.Unlock()
			return fmt.Errorf("read random bytes: %w", err)
		}
		h, err := s.hasher.Hash(ctx, string(secret[:]))
		if err != nil {
			s.dummyMu.Unlock()
			return fmt.Errorf("hash dummy password: %w", err)
		}
		s.dummyHash, hash = h, h
	}
	s.dummyMu.Unlock()
	if _, err := s.hasher.Verify(ctx, password, hash); err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	return nil
}
