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
	"authapi/app/outbox"
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
	PasswordMinScore  int // zxcvbn score a new password needs; 0 keeps only the length rules
	// RefreshRotation makes /refresh return a new refresh token each time.
	RefreshRotation      bool
	RefreshReuseInterval time.Duration
	Mailer               string // "log" or "smtp"
	SMTP                 mailer.SMTPConfig
	LogFormat            string // "text" or "json"
	LogLevel             slog.Level
	Outbox               outbox.Config
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

	cfg := Config{Outbox: outbox.DefaultConfig()}
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
  authapi keys rotate       add a token signing key (it signs from the next start)
  authapi keys list         list the token signing keys: kid, creation, state

Every flag can also be set through the environment variable named beside it;
a flag given on the command line wins.

Flags:
`)
	fs.PrintDefaults()
}
