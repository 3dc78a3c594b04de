package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"authapi/adapters/mailer"
	"authapi/app/auth"
	"authapi/app/outbox"
	"authapi/ports"
)

// Config is the service's configuration, read from flags and AUTH_*
// environment variables. A flag wins over its variable, which wins over the
// built-in default, so `go run .` works with no setup at all.
type Config struct {
	Addr              string
	DatabasePath      string
	PublicURL         *url.URL
	Audience          string // the tokens' "aud"; defaults to PublicURL
	SigningKeyFile    string
	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	ActivationCodeTTL time.Duration
	PasswordResetTTL  time.Duration
	// ForgotPasswordMinDuration pads every answer of /password/forgot.
	ForgotPasswordMinDuration time.Duration
	PasswordMinScore          int // zxcvbn score a new password needs; 0 keeps only the length rules
	// RefreshRotation makes /refresh return a new refresh token each time.
	RefreshRotation      bool
	RefreshReuseInterval time.Duration
	Mailer               string // "log" or "smtp"
	SMTP                 mailer.SMTPConfig
	LogFormat            string // "text" or "json"
	LogLevel             slog.Level
	Outbox               outbox.Config
	Limits               auth.Limits
	TrustedProxies       []string
}

// setting is one configuration value: its flag, its environment variable,
// its default and how to store a parsed value.
type setting struct {
	flag, env, def, usage string
	apply                 func(c *Config, value string) error
}

var settings = []setting{
	{"addr", "AUTH_ADDR", ":8080", "address to listen on (host:port)", func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port, such as :8080 or 127.0.0.1:8080")
		}
		c.Addr = v
		return nil
	}},
	{"database-url", "AUTH_DATABASE_URL", "auth.db", "path of the SQLite database file", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.DatabasePath = v
		return nil
	}},
	{"public-url", "AUTH_PUBLIC_URL", "http://localhost:8080", "URL where users reach the service; used in emailed links and as the token issuer", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return errors.New("want an absolute http(s) URL without query, fragment or credentials")
		}
		u.Path = strings.TrimRight(u.Path, "/")
		c.PublicURL = u
		return nil
	}},
	// After public-url, whose value is the default here.
	{"audience", "AUTH_AUDIENCE", "", "value of the aud claim written into tokens and required when verifying them (default: the public URL)", func(c *Config, v string) error {
		if v == "" {
			v = c.PublicURL.String()
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return errors.New("want one value without spaces, such as https://api.example.com")
		}
		c.Audience = v
		return nil
	}},
	{"signing-key-file", "AUTH_SIGNING_KEY_FILE", "auth-signing-key.pem", "PEM file of the ES256 token signing keys, newest last; created (mode 0600) if missing", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.SigningKeyFile = v
		return nil
	}},
	{"access-token-ttl", "AUTH_ACCESS_TOKEN_TTL", "15m", "lifetime of access tokens", durationInto(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{"refresh-token-ttl", "AUTH_REFRESH_TOKEN_TTL", "720h", "lifetime of refresh tokens", durationInto(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{"reset-code-ttl", "AUTH_RESET_CODE_TTL", "15m", "lifetime of password reset codes", durationInto(func(c *Config) *time.Duration { return &c.PasswordResetTTL })},
	{"forgot-password-min-duration", "AUTH_FORGOT_PASSWORD_MIN_DURATION", "250ms", "every answer to a forgotten password takes at least this long, so its timing does not tell whether the email has an account", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 10*time.Second {
			return errors.New("want a duration from 0s to 10s")
		}
		c.ForgotPasswordMinDuration = d
		return nil
	}},
	{"refresh-rotation", "AUTH_REFRESH_ROTATION", "false", "rotate refresh tokens on every refresh, ending the session when a replaced one is reused", func(c *Config, v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.RefreshRotation = on
		return nil
	}},
	{"refresh-reuse-interval", "AUTH_REFRESH_REUSE_INTERVAL", "10s", "with rotation, how long a replaced refresh token still works (concurrent tabs)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Hour {
			return errors.New("want a duration from 0s to 1h")
		}
		c.RefreshReuseInterval = d
		return nil
	}},
	{"activation-code-ttl", "AUTH_ACTIVATION_CODE_TTL", "1h", "lifetime of activation codes", durationInto(func(c *Config) *time.Duration { return &c.ActivationCodeTTL })},
	{"password-min-score", "AUTH_PASSWORD_MIN_SCORE", "2", "how hard to guess a new password must be, as a zxcvbn score from 1 to 4; 0 checks only its length", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 4 {
			return errors.New("want a whole number from 0 to 4")
		}
		c.PasswordMinScore = n
		return nil
	}},
	{"mailer", "AUTH_MAILER", "log", "how to send email: log (print it, for development) or smtp", func(c *Config, v string) error {
		if v != "log" && v != "smtp" {
			return errors.New("want log or smtp")
		}
		c.Mailer = v
		return nil
	}},
	{"smtp-host", "AUTH_SMTP_HOST", "", "SMTP server host (required with --mailer=smtp)", func(c *Config, v string) error {
		c.SMTP.Host = v
		return nil
	}},
	{"smtp-port", "AUTH_SMTP_PORT", "587", "SMTP server port", func(c *Config, v string) error {
		port, err := strconv.Atoi(v)
		if err != nil || port < 1 || port > 65535 {
			return errors.New("want a port number from 1 to 65535")
		}
		c.SMTP.Port = port
		return nil
	}},
	{"smtp-username", "AUTH_SMTP_USERNAME", "", "SMTP user name; no authentication when empty", func(c *Config, v string) error {
		c.SMTP.Username = v
		return nil
	}},
	{"smtp-password", "AUTH_SMTP_PASSWORD", "", "SMTP password (prefer the environment variable to the flag)", func(c *Config, v string) error {
		c.SMTP.Password = v
		return nil
	}},
	{"smtp-from", "AUTH_SMTP_FROM", "", "sender address of emails (required with --mailer=smtp)", func(c *Config, v string) error {
		c.SMTP.From = v
		return nil
	}},
	{"smtp-tls", "AUTH_SMTP_TLS", "starttls", "SMTP transport security: starttls, tls or none", func(c *Config, v string) error {
		mode, err := mailer.ParseTLSMode(v)
		if err != nil {
			return errors.New("want starttls, tls or none")
		}
		c.SMTP.TLS = mode
		return nil
	}},
	{"mail-max-attempts", "AUTH_MAIL_MAX_ATTEMPTS", "12", "failed delivery attempts after which an email is given up", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errors.New("want a whole number from 1 to 1000")
		}
		c.Outbox.MaxAttempts = n
		return nil
	}},
	{"mail-max-age", "AUTH_MAIL_MAX_AGE", "24h", "how long an email is retried before it is given up", durationInto(func(c *Config) *time.Duration { return &c.Outbox.MaxAge })},
	{"trusted-proxies", "AUTH_TRUSTED_PROXIES", "", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
				return fmt.Errorf("%q is neither an IP address nor a CIDR range", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
		return nil
	}},
	{"limit-login-per-ip", "AUTH_LIMIT_LOGIN_PER_IP", "30/1m", "logins per client address (N/duration, or off)", limitInto(func(c *Config) *ports.Limit { return &c.Limits.LoginPerIP })},
	{"limit-verify-per-ip", "AUTH_LIMIT_VERIFY_PER_IP", "30/1m", "activation attempts per client address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.VerifyPerIP })},
	{"limit-signup-per-ip", "AUTH_LIMIT_SIGNUP_PER_IP", "20/1m", "signups per client address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.SignupPerIP })},
	{"limit-signup-per-email", "AUTH_LIMIT_SIGNUP_PER_EMAIL", "5/1h", "signups naming one email address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.SignupPerEmail })},
	{"limit-resend-per-ip", "AUTH_LIMIT_RESEND_PER_IP", "20/1h", "activation resends per client address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.ResendPerIP })},
	{"limit-resend-per-email", "AUTH_LIMIT_RESEND_PER_EMAIL", "1/1m,5/1h", "activation resends per email address (several limits separated by commas)", limitsInto(func(c *Config) *[]ports.Limit { return &c.Limits.ResendPerEmail })},
	{"limit-forgot-per-ip", "AUTH_LIMIT_FORGOT_PER_IP", "20/1h", "forgotten-password requests per client address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.ForgotPerIP })},
	{"limit-forgot-per-email", "AUTH_LIMIT_FORGOT_PER_EMAIL", "1/1m,5/1h", "forgotten-password requests per email address (several limits separated by commas)", limitsInto(func(c *Config) *[]ports.Limit { return &c.Limits.ForgotPerEmail })},
	{"limit-reset-per-ip", "AUTH_LIMIT_RESET_PER_IP", "30/1m", "password reset attempts per client address", limitInto(func(c *Config) *ports.Limit { return &c.Limits.ResetPerIP })},
	{"login-free-failures", "AUTH_LOGIN_FREE_FAILURES", "5", "wrong passwords per account and client before logins slow down", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return errors.New("want a whole number from 0 to 1000")
		}
		c.Limits.Login.FreeFailures = n
		return nil
	}},
	{"login-max-delay", "AUTH_LOGIN_MAX_DELAY", "15m", "longest wait between logins after repeated wrong passwords (the wait starts at 1s and doubles)", durationInto(func(c *Config) *time.Duration { return &c.Limits.Login.MaxDelay })},
	{"login-lockout-failures", "AUTH_LOGIN_LOCKOUT_FAILURES", "100", "consecutive wrong passwords, from any client, that lock an account (0: never)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return errors.New("want a whole number from 0 to 100 (NIST SP 800-63B allows at most 100)")
		}
		c.Limits.Login.LockoutFailures = n
		return nil
	}},
	{"log-format", "AUTH_LOG_FORMAT", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return errors.New("want text or json")
		}
		c.LogFormat = v
		return nil
	}},
	{"log-level", "AUTH_LOG_LEVEL", "info", "minimum log level: debug, info, warn or error", func(c *Config, v string) error {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return errors.New("want debug, info, warn or error")
		}
		return nil
	}},
}

func limitInto(field func(*Config) *ports.Limit) func(*Config, string) error {
	return func(c *Config, v string) error {
		l, err := parseLimit(v)
		if err != nil {
			return err
		}
		*field(c) = l
		return nil
	}
}

func limitsInto(field func(*Config) *[]ports.Limit) func(*Config, string) error {
	return func(c *Config, v string) error {
		var limits []ports.Limit
		for _, part := range strings.Split(v, ",") {
			l, err := parseLimit(strings.TrimSpace(part))
			if err != nil {
				return err
			}
			limits = append(limits, l)
		}
		*field(c) = limits
		return nil
	}
}

// parseLimit reads "N/duration" (N events per duration, N at once) or "off".
func parseLimit(v string) (ports.Limit, error) {
	if v == "off" || v == "0" {
		return ports.Limit{}, nil
	}
	n, per, ok := strings.Cut(v, "/")
	events, err := strconv.Atoi(n)
	if !ok || err != nil || events < 1 {
		return ports.Limit{}, errors.New("want N/duration, such as 30/1m, or off")
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return ports.Limit{}, errors.New("want N/duration, such as 30/1m, or off")
	}
	return ports.Limit{Events: events, Per: d, Burst: events}, nil
}

func durationInto(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration such as 90s, 15m or 720h")
		}
		*field(c) = d
		return nil
	}
}

// parseConfig reads the configuration from args and the environment. The
// error names the setting at fault in one line. It returns the arguments left
// after the flags.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet("authapi", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.flag] = fs.String(s.flag, s.def, s.usage+" (env "+s.env+")")
	}
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg := Config{Outbox: outbox.DefaultConfig(), Limits: auth.DefaultLimits()}
	for _, s := range settings {
		value := *values[s.flag]
		if env, ok := lookup(getenv, s.env); ok && !given[s.flag] {
			value = env
		}
		if err := s.apply(&cfg, value); err != nil {
			return Config{}, nil, fmt.Errorf("invalid %s (--%s) %q: %w", s.env, s.flag, redact(s, value), err)
		}
	}
	if err := cfg.check(); err != nil {
		return Config{}, nil, err
	}
	return cfg, fs.Args(), nil
}

// check validates settings that depend on each other.
func (c Config) check() error {
	if c.Mailer != "smtp" {
		return nil
	}
	if c.SMTP.Host == "" {
		return errors.New("invalid AUTH_SMTP_HOST (--smtp-host): required when AUTH_MAILER=smtp")
	}
	if c.SMTP.From == "" {
		return errors.New("invalid AUTH_SMTP_FROM (--smtp-from): required when AUTH_MAILER=smtp")
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func redact(s setting, value string) string {
	if s.env == "AUTH_SMTP_PASSWORD" {
		return "[redacted]"
	}
	return value
}

func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprint(out, `authapi: signup, email verification, login with JWTs and token refresh.

Usage:
  authapi [flags]           serve the API (the default command)
  authapi migrate [flags]   apply database migrations and exit
  authapi backup [flags] PATH
                            write a consistent copy of the live database to the new file PATH
  authapi keys rotate       add a token signing key (it signs from the next start)
  authapi keys list         list the token signing keys: kid, creation, state

Every flag can also be set through the environment variable named beside it;
a flag given on the command line wins.

Flags:
`)
	fs.PrintDefaults()
}
