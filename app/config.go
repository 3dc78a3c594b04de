package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"authapi/adapters/mailer"
	"authapi/adapters/postgres"
	"authapi/adapters/ratelimit"
	"authapi/app/auth"
	"authapi/app/emails"
	"authapi/app/outbox"
	"authapi/ports"
)

// Config is the service's configuration. DefaultConfig is the one source
// of defaults: flags, environment variables, --help, the README's table and
// the tests all start from it, so that `go run .` works with no setup.
type Config struct {
	Addr string
	// Database is where the service keeps its state.
	Database       Database
	PublicURL      *url.URL
	Audience       string // the tokens' "aud"; empty means PublicURL
	SigningKeyFile string
	// SecretKeyFile holds the server secret that one-time codes are hashed
	// under.
	SecretKeyFile string
	// KeysReloadInterval is how often the signing keys are read again.
	KeysReloadInterval time.Duration
	// KeyActivationDelay is how long a new key is published before it
	// signs.
	KeyActivationDelay time.Duration
	// KeyRotationInterval rotates the signing keys on a schedule; zero is
	// off.
	KeyRotationInterval time.Duration
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	ActivationCodeTTL   time.Duration
	PasswordResetTTL    time.Duration
	// ForgotPasswordMinDuration pads every answer of /password/forgot, and
	// with ConcealAccounts those of /verify and /resend-activation.
	ForgotPasswordMinDuration time.Duration
	PasswordMinScore          int // zxcvbn score a new password needs; 0 keeps only the length rules
	// RefreshRotation makes /refresh return a new refresh token each time.
	RefreshRotation      bool
	RefreshReuseInterval time.Duration
	// ConcealAccounts makes signup, verify and resend answer alike for
	// addresses with and without an account.
	ConcealAccounts bool
	Mailer          string // "log" or "smtp"
	SMTP            mailer.SMTPConfig
	LogFormat       string // "text" or "json"
	LogLevel        slog.Level
	Outbox          outbox.Config
	Limits          auth.Limits
	// LimiterMaxKeys bounds the rate limiter's memory.
	LimiterMaxKeys int
	TrustedProxies []string
	// IPv6Prefix is the length of the network that an IPv6 client counts
	// as for limits per client.
	IPv6Prefix int
	// AuditRetention is how long audit events are kept.
	AuditRetention time.Duration
	// AdminAddr, when set, is the listener of the admin routes, which are
	// then not served on Addr.
	AdminAddr string
	// MetricsAddr, when set, serves the Prometheus metrics: on a listener
	// of its own, or beside the public routes if it equals Addr.
	MetricsAddr string
	// CORSOrigins are the origins of browser front ends that may call the
	// API from another origin; none leaves CORS off.
	CORSOrigins []string
	// WebAuthnRPID is the domain that passkeys are bound to; empty is the
	// public URL's host.
	WebAuthnRPID string
	// WebAuthnOrigins are the origins whose pages may register and use
	// passkeys; none is the public URL's and those CORS origins that are on
	// the RP ID.
	WebAuthnOrigins []string
	// Brand is the product name and support address that every email
	// template receives.
	Brand emails.Brand
	// EmailTemplatesDir holds templates that replace the built-in ones of
	// the same names; empty is none.
	EmailTemplatesDir string
}

// DefaultConfig is the configuration of `go run .`: development defaults
// that are safe, with every abuse limit on.
func DefaultConfig() Config {
	public, _ := url.Parse("http://localhost:8080")
	return Config{
		Addr:                      "127.0.0.1:8080",
		Database:                  Database{Path: "auth.db"},
		PublicURL:                 public,
		SigningKeyFile:            "auth-signing-key.pem",
		SecretKeyFile:             "auth-secret.key",
		KeysReloadInterval:        time.Minute,
		KeyActivationDelay:        6 * time.Minute,
		AccessTokenTTL:            15 * time.Minute,
		RefreshTokenTTL:           720 * time.Hour,
		ActivationCodeTTL:         time.Hour,
		PasswordResetTTL:          15 * time.Minute,
		ForgotPasswordMinDuration: 250 * time.Millisecond,
		PasswordMinScore:          2,
		RefreshReuseInterval:      10 * time.Second,
		Mailer:                    "log",
		SMTP:                      mailer.SMTPConfig{Port: 587, TLS: mailer.TLSStartTLS},
		LogFormat:                 "text",
		LogLevel:                  slog.LevelInfo,
		Outbox:                    outbox.DefaultConfig(),
		Limits:                    auth.DefaultLimits(),
		LimiterMaxKeys:            ratelimit.DefaultMaxKeys,
		IPv6Prefix:                64,
		AuditRetention:            90 * 24 * time.Hour,
		Brand:                     emails.Brand{ProductName: "authapi"},
	}
}

// audience is the tokens' "aud": the configured one, or the public URL.
func (c Config) audience() string {
	if c.Audience != "" {
		return c.Audience
	}
	return c.PublicURL.String()
}

// relyingPartyID is the domain passkeys are bound to.
func (c Config) relyingPartyID() string {
	if c.WebAuthnRPID != "" {
		return c.WebAuthnRPID
	}
	return strings.ToLower(c.PublicURL.Hostname())
}

// relyingPartyOrigins are the origins whose pages may use passkeys: the
// configured ones, or the public URL's and those of the CORS origins that
// browsers would let use the RP ID. A CORS origin on another domain is
// left out rather than refused, since CORS does not need passkeys.
func (c Config) relyingPartyOrigins() []string {
	if len(c.WebAuthnOrigins) > 0 {
		return c.WebAuthnOrigins
	}
	rpID := c.relyingPartyID()
	var origins []string
	for _, o := range append([]string{strings.ToLower(c.PublicURL.Scheme + "://" + c.PublicURL.Host)}, c.CORSOrigins...) {
		if onDomain(o, rpID) && !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins
}

// onDomain reports whether origin's host is domain or one of its
// subdomains, as a browser requires of a page using domain's passkeys.
func onDomain(origin, domain string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// setting binds one field of a Config to its flag and environment variable.
type setting struct {
	flag, env, usage string
	value            value
	// secret settings are never echoed in errors.
	secret bool
	// show, when set, is how an error shows a value that may hold a
	// secret, such as a password in a URL.
	show func(raw string) string
}

// value reads a setting into its field and shows the field's value.
type value interface {
	set(string) error
	String() string
}

// settings binds every setting to its field of c.
func settings(c *Config) []setting {
	return []setting{
		{flag: "addr", env: "AUTH_ADDR", usage: "address to listen on (host:port); the default is this machine only, :8080 is every interface", value: addrValue{&c.Addr}},
		{flag: "database-url", env: "AUTH_DATABASE_URL", usage: "where the service keeps its state: the path of a SQLite database file (or sqlite:PATH), or a postgres:// URL that replicas share", value: databaseValue{&c.Database}, show: redactDatabaseURL},
		{flag: "public-url", env: "AUTH_PUBLIC_URL", usage: "URL where users reach the service; used in emailed links and as the token issuer", value: urlValue{&c.PublicURL}},
		{flag: "audience", env: "AUTH_AUDIENCE", usage: "value of the aud claim written into tokens and required when verifying them (empty: the public URL)", value: audienceValue{&c.Audience}},
		{flag: "signing-key-file", env: "AUTH_SIGNING_KEY_FILE", usage: "PEM file of the ES256 token signing keys, newest last; created (mode 0600) if missing", value: pathValue{&c.SigningKeyFile}},
		{flag: "secret-key-file", env: "AUTH_SECRET_KEY_FILE", usage: "file of the server secret that one-time codes are hashed under; created (mode 0600) if missing", value: pathValue{&c.SecretKeyFile}},
		{flag: "keys-reload-interval", env: "AUTH_KEYS_RELOAD_INTERVAL", usage: "how often the service reads the signing keys again (SIGHUP reads them at once)", value: durationValue{p: &c.KeysReloadInterval, min: time.Second}},
		{flag: "key-activation-delay", env: "AUTH_KEY_ACTIVATION_DELAY", usage: "how long a new signing key is published before it signs: at least the reload interval, plus the time resource servers cache the JWKS (5m)", value: durationValue{p: &c.KeyActivationDelay}},
		{flag: "key-rotation-interval", env: "AUTH_KEY_ROTATION_INTERVAL", usage: "rotate the signing keys on this schedule, such as 720h (0s: only with authapi keys rotate)", value: durationValue{p: &c.KeyRotationInterval}},
		{flag: "access-token-ttl", env: "AUTH_ACCESS_TOKEN_TTL", usage: "lifetime of access tokens", value: durationValue{p: &c.AccessTokenTTL, min: time.Second}},
		{flag: "refresh-token-ttl", env: "AUTH_REFRESH_TOKEN_TTL", usage: "lifetime of refresh tokens", value: durationValue{p: &c.RefreshTokenTTL, min: time.Second}},
		{flag: "activation-code-ttl", env: "AUTH_ACTIVATION_CODE_TTL", usage: "lifetime of activation codes", value: durationValue{p: &c.ActivationCodeTTL, min: time.Second}},
		{flag: "reset-code-ttl", env: "AUTH_RESET_CODE_TTL", usage: "lifetime of password reset codes", value: durationValue{p: &c.PasswordResetTTL, min: time.Second}},
		{flag: "forgot-password-min-duration", env: "AUTH_FORGOT_PASSWORD_MIN_DURATION", usage: "least time every answer to a forgotten password takes (and, with concealed accounts, to verify and resend), so that its timing does not tell whether the email has an account", value: durationValue{p: &c.ForgotPasswordMinDuration, max: 10 * time.Second}},
		{flag: "password-min-score", env: "AUTH_PASSWORD_MIN_SCORE", usage: "how hard to guess a new password must be, as a zxcvbn score from 1 to 4; 0 checks only its length", value: intValue{p: &c.PasswordMinScore, min: 0, max: 4}},
		{flag: "refresh-rotation", env: "AUTH_REFRESH_ROTATION", usage: "rotate refresh tokens on every refresh, ending the session when a replaced one is reused", value: boolValue{&c.RefreshRotation}},
		{flag: "refresh-reuse-interval", env: "AUTH_REFRESH_REUSE_INTERVAL", usage: "with rotation, how long a replaced refresh token still works (concurrent tabs)", value: durationValue{p: &c.RefreshReuseInterval, max: time.Hour}},
		{flag: "conceal-accounts", env: "AUTH_CONCEAL_ACCOUNTS", usage: "answer signup, verify and resend alike for addresses with and without an account (the owner is emailed instead)", value: boolValue{&c.ConcealAccounts}},
		{flag: "mailer", env: "AUTH_MAILER", usage: "how to send email: log (print it, for development) or smtp", value: choiceValue{p: &c.Mailer, choices: []string{"log", "smtp"}}},
		{flag: "smtp-host", env: "AUTH_SMTP_HOST", usage: "SMTP server host (required with smtp)", value: stringValue{&c.SMTP.Host}},
		{flag: "smtp-port", env: "AUTH_SMTP_PORT", usage: "SMTP server port", value: intValue{p: &c.SMTP.Port, min: 1, max: 65535}},
		{flag: "smtp-username", env: "AUTH_SMTP_USERNAME", usage: "SMTP user name; no authentication when empty", value: stringValue{&c.SMTP.Username}},
		{flag: "smtp-password", env: "AUTH_SMTP_PASSWORD", usage: "SMTP password (prefer the environment variable to the flag)", value: secretValue{&c.SMTP.Password}, secret: true},
		{flag: "smtp-from", env: "AUTH_SMTP_FROM", usage: "sender address of emails (required with smtp)", value: stringValue{&c.SMTP.From}},
		{flag: "smtp-tls", env: "AUTH_SMTP_TLS", usage: "SMTP transport security: starttls, tls or none", value: tlsValue{&c.SMTP.TLS}},
		{flag: "mail-max-attempts", env: "AUTH_MAIL_MAX_ATTEMPTS", usage: "failed delivery attempts after which an email is given up", value: intValue{p: &c.Outbox.MaxAttempts, min: 1, max: 1000}},
		{flag: "mail-max-age", env: "AUTH_MAIL_MAX_AGE", usage: "how long an email is retried before it is given up", value: durationValue{p: &c.Outbox.MaxAge, min: time.Second}},
		{flag: "product-name", env: "AUTH_PRODUCT_NAME", usage: "name of your product, as the emails call it", value: productNameValue{&c.Brand.ProductName}},
		{flag: "support-email", env: "AUTH_SUPPORT_EMAIL", usage: "address users may write to, which the emails give (empty: they give none)", value: addressValue{&c.Brand.SupportEmail}},
		{flag: "email-templates-dir", env: "AUTH_EMAIL_TEMPLATES_DIR", usage: "directory of email templates that replace the built-in ones of the same names (empty: none)", value: stringValue{&c.EmailTemplatesDir}},
		{flag: "cors-origins", env: "AUTH_CORS_ORIGINS", usage: "comma-separated origins (such as https://app.example.com) of browser front ends that may call the API from another origin; empty: no CORS", value: originsValue{&c.CORSOrigins}},
		{flag: "webauthn-rp-id", env: "AUTH_WEBAUTHN_RP_ID", usage: "domain that passkeys are bound to, such as example.com; pages on it and its subdomains can use them (empty: the public URL's host)", value: rpIDValue{&c.WebAuthnRPID}},
		{flag: "webauthn-origins", env: "AUTH_WEBAUTHN_ORIGINS", usage: "comma-separated origins of the pages that register and use passkeys, each on the RP ID or a subdomain (empty: the public URL and those CORS origins that are)", value: originsValue{&c.WebAuthnOrigins}},
		{flag: "trusted-proxies", env: "AUTH_TRUSTED_PROXIES", usage: "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed", value: proxiesValue{&c.TrustedProxies}},
		{flag: "ipv6-prefix", env: "AUTH_IPV6_PREFIX", usage: "length of the IPv6 network that counts as one client for limits per client address (a home connection commonly holds a /64)", value: intValue{p: &c.IPv6Prefix, min: 32, max: 128}},
		{flag: "limit-login-per-ip", env: "AUTH_LIMIT_LOGIN_PER_IP", usage: "logins per client address (N/duration, several separated by commas, or off)", value: limitValue{&c.Limits.LoginPerSource}},
		{flag: "limit-verify-per-ip", env: "AUTH_LIMIT_VERIFY_PER_IP", usage: "activation attempts per client address", value: limitValue{&c.Limits.VerifyPerSource}},
		{flag: "limit-signup-per-ip", env: "AUTH_LIMIT_SIGNUP_PER_IP", usage: "signups per client address", value: limitValue{&c.Limits.SignupPerSource}},
		{flag: "limit-signup-per-email", env: "AUTH_LIMIT_SIGNUP_PER_EMAIL", usage: "signups naming one email address", value: limitValue{&c.Limits.SignupPerEmail}},
		{flag: "limit-resend-per-ip", env: "AUTH_LIMIT_RESEND_PER_IP", usage: "activation resends per client address", value: limitValue{&c.Limits.ResendPerSource}},
		{flag: "limit-forgot-per-ip", env: "AUTH_LIMIT_FORGOT_PER_IP", usage: "forgotten-password requests per client address", value: limitValue{&c.Limits.ForgotPerSource}},
		{flag: "limit-reset-per-ip", env: "AUTH_LIMIT_RESET_PER_IP", usage: "password reset attempts per client address", value: limitValue{&c.Limits.ResetPerSource}},
		{flag: "limit-unlock-per-ip", env: "AUTH_LIMIT_UNLOCK_PER_IP", usage: "unlock attempts per client address", value: limitValue{&c.Limits.UnlockPerSource}},
		{flag: "limit-codes-per-email", env: "AUTH_LIMIT_CODES_PER_EMAIL", usage: "new codes sent to one email address, by resend and forgotten-password requests together", value: limitValue{&c.Limits.CodesPerEmail}},
		{flag: "limiter-max-keys", env: "AUTH_LIMITER_MAX_KEYS", usage: "most rate-limit buckets held in memory (about 60 bytes each); when all are in force, new clients wait", value: intValue{p: &c.LimiterMaxKeys, min: 1000, max: 100_000_000}},
		{flag: "login-free-failures", env: "AUTH_LOGIN_FREE_FAILURES", usage: "wrong passwords per account and client address before logins slow down", value: intValue{p: &c.Limits.Login.FreeFailures, min: 0, max: 1000}},
		{flag: "login-max-delay", env: "AUTH_LOGIN_MAX_DELAY", usage: "longest wait between logins after repeated wrong passwords (the wait starts at 1s and doubles)", value: durationValue{p: &c.Limits.Login.MaxDelay, min: time.Second}},
		{flag: "login-lockout-failures", env: "AUTH_LOGIN_LOCKOUT_FAILURES", usage: "consecutive wrong passwords, from any client, that lock an account for a while (0: never)", value: intValue{p: &c.Limits.Login.LockAfter, min: 0, max: 100}},
		{flag: "login-max-lock", env: "AUTH_LOGIN_MAX_LOCK", usage: "longest lock of an account (the first lasts 1m, each further one twice as long)", value: durationValue{p: &c.Limits.Login.MaxLock, min: time.Minute}},
		{flag: "audit-retention", env: "AUTH_AUDIT_RETENTION", usage: "how long the audit log keeps an event", value: durationValue{p: &c.AuditRetention, min: time.Hour}},
		{flag: "admin-addr", env: "AUTH_ADMIN_ADDR", usage: "serve the admin API on this address (host:port, such as a private interface) instead of beside the public routes", value: optionalAddrValue{&c.AdminAddr}},
		{flag: "metrics-addr", env: "AUTH_METRICS_ADDR", usage: "serve Prometheus metrics at /metrics on this address (host:port); empty is off; the same address as AUTH_ADDR puts them on the public listener", value: optionalAddrValue{&c.MetricsAddr}},
		{flag: "log-format", env: "AUTH_LOG_FORMAT", usage: "log format: text or json", value: choiceValue{p: &c.LogFormat, choices: []string{"text", "json"}}},
		{flag: "log-level", env: "AUTH_LOG_LEVEL", usage: "minimum log level: debug, info, warn or error", value: levelValue{&c.LogLevel}},
	}
}

// parseConfig reads the configuration from args and the environment over
// DefaultConfig. The error names the setting at fault in one line. It
// returns the arguments left after the flags.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (Config, []string, error) {
	cfg := DefaultConfig()
	bound := settings(&cfg)
	fs := flag.NewFlagSet("authapi", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	given := make(map[string]*string, len(bound))
	for _, s := range bound {
		given[s.flag] = fs.String(s.flag, "", s.usage)
	}
	fs.Usage = func() { usage(usageOut) }
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	flags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { flags[f.Name] = true })

	for _, s := range bound {
		raw, ok := *given[s.flag], flags[s.flag]
		if !ok {
			raw, ok = lookup(getenv, s.env)
		}
		if !ok {
			continue
		}
		if err := s.value.set(raw); err != nil {
			shown := strconv.Quote(raw)
			switch {
			case s.secret:
				shown = "[redacted]"
			case s.show != nil:
				shown = strconv.Quote(s.show(raw))
			}
			return Config{}, nil, fmt.Errorf("invalid %s (--%s) %s: %w", s.env, s.flag, shown, err)
		}
	}
	if err := cfg.check(); err != nil {
		return Config{}, nil, err
	}
	return cfg, fs.Args(), nil
}

// check validates settings that depend on each other, naming every
// setting at fault at once.
func (c Config) check() error {
	if c.KeyActivationDelay < c.KeysReloadInterval {
		return fmt.Errorf("AUTH_KEY_ACTIVATION_DELAY (%s) must be at least AUTH_KEYS_RELOAD_INTERVAL (%s): a new key must reach every replica before it signs",
			formatDuration(c.KeyActivationDelay), formatDuration(c.KeysReloadInterval))
	}
	rpID := c.relyingPartyID()
	for _, o := range c.WebAuthnOrigins {
		if !onDomain(o, rpID) {
			return fmt.Errorf("AUTH_WEBAUTHN_ORIGINS: %s is not on %s (AUTH_WEBAUTHN_RP_ID) or one of its subdomains, so browsers would refuse its passkeys", o, rpID)
		}
	}
	if c.Mailer != "smtp" {
		return nil
	}
	var missing []string
	if c.SMTP.Host == "" {
		missing = append(missing, "AUTH_SMTP_HOST (--smtp-host)")
	}
	if c.SMTP.From == "" {
		missing = append(missing, "AUTH_SMTP_FROM (--smtp-from)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("AUTH_MAILER=smtp needs %s", strings.Join(missing, " and "))
	}
	return nil
}

// unknownSettings returns the AUTH_ variables of environ that are no
// setting, sorted, so that a typo does not pass silently.
func unknownSettings(environ []string) []string {
	known := map[string]bool{}
	var c Config
	for _, s := range settings(&c) {
		known[s.env] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTH_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// commands are authapi's subcommands, in the order --help lists them.
var commands = []struct{ name, args, summary string }{
	{"serve", "[flags]", "serve the API (the default command)"},
	{"migrate", "[flags]", "apply database migrations and exit"},
	{"backup", "[flags] PATH", "write a consistent copy of the live database to the new file PATH"},
	{"import-sqlite", "[flags] PATH", "copy the accounts, live sessions and signing keys of the SQLite installation at PATH into the empty PostgreSQL database of AUTH_DATABASE_URL"},
	{"keys", "rotate [flags]", "add a token signing key"},
	{"keys", "list [flags]", "list the token signing keys: kid, creation, state"},
	{"admin-keys", "create|list|revoke [flags] [NAME]", "manage the admin API's keys (a key is printed once, at creation)"},
	{"users", "list|show|disable|enable|unlock|revoke-sessions|delete [flags] [ID|EMAIL]", "look after accounts from the command line"},
	{"health", "[--addr host:port]", "exit 0 if the service on AUTH_ADDR answers ready, 1 if not"},
}

// commandNames lists the subcommands for a message: "a, b and c".
func commandNames() string {
	var names []string
	for _, c := range commands {
		if !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func usage(out io.Writer) {
	fmt.Fprint(out, "authapi: signup, email verification, login with JWTs and token refresh.\n\nUsage:\n")
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(w, "  authapi %s %s\t%s\n", c.name, c.args, c.summary)
	}
	w.Flush()
	fmt.Fprint(out, `
Every flag can also be set through the environment variable named beside it;
a flag given on the command line wins.

Flags:
`)
	defaults := DefaultConfig()
	for _, s := range settings(&defaults) {
		fmt.Fprintf(out, "  --%s (%s)\n    \t%s", s.flag, s.env, s.usage)
		if d := s.value.String(); d != "" {
			fmt.Fprintf(out, " (default %s)", d)
		}
		fmt.Fprintln(out)
	}
}

// The kinds of setting values. Each set checks its input and says what it
// wants when it is wrong; each String shows the field as a setting would
// spell it.

type stringValue struct{ p *string }

func (v stringValue) set(s string) error { *v.p = s; return nil }
func (v stringValue) String() string     { return *v.p }

// secretValue is a password for another service. A control character
// cannot travel in SMTP AUTH and most likely came from a file read with its
// line ending.
type secretValue struct{ p *string }

func (v secretValue) set(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New("must not contain control characters such as a line break")
	}
	*v.p = s
	return nil
}

// String never shows the secret.
func (v secretValue) String() string { return "" }

// productNameValue is a name that the emails show, in a subject too: one
// line of at most 100 characters.
type productNameValue struct{ p *string }

func (v productNameValue) set(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("must not be empty")
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("must not contain control characters such as a line break")
	case utf8.RuneCountInString(s) > 100:
		return errors.New("want at most 100 characters")
	}
	*v.p = s
	return nil
}
func (v productNameValue) String() string { return *v.p }

// addressValue is an email address alone, such as support@example.com,
// which the emails show and link to.
type addressValue struct{ p *string }

func (v addressValue) set(s string) error {
	if addr, err := mail.ParseAddress(s); err != nil || addr.Name != "" || addr.Address != s {
		return errors.New("want an email address alone, such as support@example.com")
	}
	*v.p = s
	return nil
}
func (v addressValue) String() string { return *v.p }

type pathValue struct{ p *string }

func (v pathValue) set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	*v.p = s
	return nil
}
func (v pathValue) String() string { return *v.p }

// Database is where the service keeps its state: a SQLite file (Path) or a
// PostgreSQL database (URL).
type Database struct {
	Path string
	// URL holds the password, if any: show it with String.
	URL string
}

// Postgres reports whether the database is a PostgreSQL one.
func (d Database) Postgres() bool { return d.URL != "" }

// String names the database for messages and logs, password masked.
func (d Database) String() string {
	if d.Postgres() {
		return postgres.Redact(d.URL)
	}
	return d.Path
}

// sqliteScheme prefixes a SQLite path given as a URL: sqlite:auth.db,
// sqlite:///var/lib/authapi/auth.db.
const sqliteScheme = "sqlite:"

type databaseValue struct{ p *Database }

func (v databaseValue) set(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("must not be empty")
	case postgres.IsURL(s):
		if _, err := postgres.ParseURL(s); err != nil {
			return fmt.Errorf("not a usable PostgreSQL URL: %w", err)
		}
		*v.p = Database{URL: s}
	case strings.HasPrefix(strings.ToLower(s), sqliteScheme):
		path := strings.TrimPrefix(s[len(sqliteScheme):], "//")
		if path == "" {
			return errors.New("sqlite: needs a file path, such as sqlite:auth.db")
		}
		*v.p = Database{Path: path}
	case strings.Contains(s, "://"):
		return errors.New("want the path of a SQLite file, sqlite:PATH, or a postgres:// URL")
	default:
		*v.p = Database{Path: s}
	}
	return nil
}
func (v databaseValue) String() string { return v.p.String() }

// redactDatabaseURL shows a database setting without its password.
func redactDatabaseURL(raw string) string {
	if postgres.IsURL(raw) {
		return postgres.Redact(raw)
	}
	return raw
}

type addrValue struct{ p *string }

func (v addrValue) set(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return errors.New("want host:port, such as :8080 or 127.0.0.1:8080")
	}
	*v.p = s
	return nil
}
func (v addrValue) String() string { return *v.p }

// rpIDValue is a WebAuthn relying party id: a bare domain name, with no
// scheme, port or path.
type rpIDValue struct{ p *string }

func (v rpIDValue) set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("want a domain name such as example.com, with no scheme, port or path")
		}
	}
	*v.p = s
	return nil
}
func (v rpIDValue) String() string { return *v.p }

// originsValue is a list of exact web origins: scheme, host and port, as a
// browser sends them in Origin.
type originsValue struct{ p *[]string }

func (v originsValue) set(s string) error {
	var origins []string
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return fmt.Errorf("%q is not an origin: want scheme://host[:port], such as https://app.example.com, with no path and no wildcard", raw)
		}
		origins = append(origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	*v.p = origins
	return nil
}
func (v originsValue) String() string { return strings.Join(*v.p, ",") }

// optionalAddrValue is an address that may be left empty.
type optionalAddrValue struct{ p *string }

func (v optionalAddrValue) set(s string) error {
	if s == "" {
		*v.p = ""
		return nil
	}
	return addrValue(v).set(s)
}
func (v optionalAddrValue) String() string { return *v.p }

type urlValue struct{ p **url.URL }

func (v urlValue) set(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want an absolute http(s) URL without query, fragment or credentials")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	*v.p = u
	return nil
}
func (v urlValue) String() string { return (*v.p).String() }

type audienceValue struct{ p *string }

func (v audienceValue) set(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("want one value without spaces, such as https://api.example.com")
	}
	*v.p = s
	return nil
}
func (v audienceValue) String() string { return *v.p }

type durationValue struct {
	p        *time.Duration
	min, max time.Duration // max 0: unbounded
}

func (v durationValue) set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < v.min || (v.max > 0 && d > v.max) {
		switch {
		case v.max > 0:
			return fmt.Errorf("want a duration from %v to %v", v.min, v.max)
		default:
			return fmt.Errorf("want a duration of at least %v, such as 90s, 15m or 720h", v.min)
		}
	}
	*v.p = d
	return nil
}
func (v durationValue) String() string { return formatDuration(*v.p) }

// formatDuration writes d the way people write it in settings: 15m, 720h.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

type intValue struct {
	p        *int
	min, max int
}

func (v intValue) set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.min || n > v.max {
		return fmt.Errorf("want a whole number from %d to %d", v.min, v.max)
	}
	*v.p = n
	return nil
}
func (v intValue) String() string { return strconv.Itoa(*v.p) }

type boolValue struct{ p *bool }

func (v boolValue) set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v.p = b
	return nil
}
func (v boolValue) String() string { return strconv.FormatBool(*v.p) }

type choiceValue struct {
	p       *string
	choices []string
}

func (v choiceValue) set(s string) error {
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(v.choices, " or "))
}
func (v choiceValue) String() string { return *v.p }

type tlsValue struct{ p *mailer.TLSMode }

func (v tlsValue) set(s string) error {
	mode, err := mailer.ParseTLSMode(s)
	if err != nil {
		return errors.New("want starttls, tls or none")
	}
	*v.p = mode
	return nil
}
func (v tlsValue) String() string { return v.p.String() }

type levelValue struct{ p *slog.Level }

func (v levelValue) set(s string) error {
	if err := v.p.UnmarshalText([]byte(s)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	return nil
}
func (v levelValue) String() string { return strings.ToLower(v.p.String()) }

type proxiesValue struct{ p *[]string }

func (v proxiesValue) set(s string) error {
	var proxies []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return fmt.Errorf("%q is neither an IP address nor a CIDR range", p)
		}
		proxies = append(proxies, p)
	}
	*v.p = proxies
	return nil
}
func (v proxiesValue) String() string { return strings.Join(*v.p, ",") }

// limitValue reads "N/duration" (N events per duration, N at once), several
// separated by commas, or "off".
type limitValue struct{ p *ports.Limit }

func (v limitValue) set(s string) error {
	if s == "off" || s == "0" {
		v.p.Rates = nil
		return nil
	}
	var rates []ports.Rate
	for _, part := range strings.Split(s, ",") {
		n, per, ok := strings.Cut(strings.TrimSpace(part), "/")
		events, err := strconv.Atoi(n)
		if !ok || err != nil || events < 1 {
			return errors.New("want N/duration, such as 30/1m, several separated by commas, or off")
		}
		d, err := time.ParseDuration(per)
		if err != nil || d <= 0 {
			return errors.New("want N/duration, such as 30/1m, several separated by commas, or off")
		}
		rates = append(rates, ports.Rate{Events: events, Per: d, Burst: events})
	}
	v.p.Rates = rates
	return nil
}

func (v limitValue) String() string {
	if v.p.Off() {
		return "off"
	}
	parts := make([]string, len(v.p.Rates))
	for i, r := range v.p.Rates {
		parts[i] = fmt.Sprintf("%d/%s", r.Events, formatDuration(r.Per))
	}
	return strings.Join(parts, ",")
}
