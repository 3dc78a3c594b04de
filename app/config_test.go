package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/adapters/mailer"
)

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// environ writes vars as a process environment.
func environ(vars map[string]string) []string {
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func TestConfigDefaults(t *testing.T) {
	cfg, rest, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Errorf("rest = %v", rest)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", cfg.Addr, "127.0.0.1:8080"},
		{"database", cfg.Database, Database{Path: "auth.db"}},
		{"public url", cfg.PublicURL.String(), "http://localhost:8080"},
		{"key file", cfg.SigningKeyFile, "auth-signing-key.pem"},
		{"access ttl", cfg.AccessTokenTTL, 15 * time.Minute},
		{"refresh ttl", cfg.RefreshTokenTTL, 720 * time.Hour},
		{"activation ttl", cfg.ActivationCodeTTL, time.Hour},
		{"password min score", cfg.PasswordMinScore, 2},
		{"mailer", cfg.Mailer, "log"},
		{"smtp port", cfg.SMTP.Port, 587},
		{"smtp tls", cfg.SMTP.TLS, mailer.TLSStartTLS},
		{"log format", cfg.LogFormat, "text"},
		{"log level", cfg.LogLevel, slog.LevelInfo},
		{"product name", cfg.Brand.ProductName, "authapi"},
		{"support email", cfg.Brand.SupportEmail, ""},
		{"email templates", cfg.EmailTemplatesDir, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	env := envOf(map[string]string{"AUTH_ADDR": "127.0.0.1:9000", "AUTH_ACCESS_TOKEN_TTL": "5m", "AUTH_PUBLIC_URL": "https://auth.example.com/base/"})
	cfg, _, err := parseConfig([]string{"--access-token-ttl", "7m"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" {
		t.Errorf("environment ignored: addr = %q", cfg.Addr)
	}
	if cfg.AccessTokenTTL != 7*time.Minute {
		t.Errorf("flag did not win over environment: %v", cfg.AccessTokenTTL)
	}
	if cfg.PublicURL.String() != "https://auth.example.com/base" {
		t.Errorf("public URL = %q, want the trailing slash trimmed", cfg.PublicURL)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTH_ACCESS_TOKEN_TTL": "soon"}, "AUTH_ACCESS_TOKEN_TTL"},
		{map[string]string{"AUTH_REFRESH_TOKEN_TTL": "-1h"}, "AUTH_REFRESH_TOKEN_TTL"},
		{map[string]string{"AUTH_ACTIVATION_CODE_TTL": "0s"}, "AUTH_ACTIVATION_CODE_TTL"},
		{map[string]string{"AUTH_PASSWORD_MIN_SCORE": "5"}, "AUTH_PASSWORD_MIN_SCORE"},
		{map[string]string{"AUTH_PASSWORD_MIN_SCORE": "strong"}, "AUTH_PASSWORD_MIN_SCORE"},
		{map[string]string{"AUTH_ADDR": "8080"}, "AUTH_ADDR"},
		{map[string]string{"AUTH_PUBLIC_URL": "localhost:8080"}, "AUTH_PUBLIC_URL"},
		{map[string]string{"AUTH_PUBLIC_URL": "https://x.example/?a=b"}, "AUTH_PUBLIC_URL"},
		{map[string]string{"AUTH_MAILER": "pigeon"}, "AUTH_MAILER"},
		{map[string]string{"AUTH_SMTP_PORT": "70000"}, "AUTH_SMTP_PORT"},
		{map[string]string{"AUTH_SMTP_TLS": "maybe"}, "AUTH_SMTP_TLS"},
		{map[string]string{"AUTH_LOG_FORMAT": "xml"}, "AUTH_LOG_FORMAT"},
		{map[string]string{"AUTH_LOG_LEVEL": "loud"}, "AUTH_LOG_LEVEL"},
		{map[string]string{"AUTH_PRODUCT_NAME": "Astro\nBcc: eve@example.com"}, "AUTH_PRODUCT_NAME"},
		{map[string]string{"AUTH_PRODUCT_NAME": " "}, "AUTH_PRODUCT_NAME"},
		{map[string]string{"AUTH_SUPPORT_EMAIL": "support"}, "AUTH_SUPPORT_EMAIL"},
		{map[string]string{"AUTH_SUPPORT_EMAIL": "Support <support@example.com>"}, "AUTH_SUPPORT_EMAIL"},
		{map[string]string{"AUTH_MAILER": "smtp", "AUTH_SMTP_FROM": "a@example.com"}, "AUTH_SMTP_HOST"},
		{map[string]string{"AUTH_MAILER": "smtp", "AUTH_SMTP_HOST": "mail.example.com"}, "AUTH_SMTP_FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, _, err := parseConfig(nil, envOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line naming %s", err, tt.want)
			}
		})
	}
}

func TestConfigNeverEchoesTheSMTPPassword(t *testing.T) {
	// A password with a line break is refused; the refusal names the
	// setting and never repeats the value.
	_, _, err := parseConfig(nil, envOf(map[string]string{"AUTH_SMTP_PASSWORD": "hunter2-secret\n"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AUTH_SMTP_PASSWORD") {
		t.Fatalf("err = %v, want a refusal naming AUTH_SMTP_PASSWORD", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error repeats the password: %v", err)
	}
	var out bytes.Buffer
	if _, _, err := parseConfig([]string{"--help"}, envOf(map[string]string{"AUTH_SMTP_PASSWORD": "hunter2-secret"}), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("--help shows the password")
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, _, err := parseConfig([]string{"--help"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	var c Config
	for _, s := range settings(&c) {
		if !strings.Contains(out.String(), s.env) || !strings.Contains(out.String(), "-"+s.flag) {
			t.Errorf("help does not list %s / --%s", s.env, s.flag)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"help", []string{"--help"}, nil, 0},
		{"bad setting", nil, map[string]string{"AUTH_LOG_LEVEL": "loud"}, 2},
		{"unknown command", []string{"frobnicate"}, nil, 2},
		{"unknown flag", []string{"--nope"}, nil, 2},
		{"migrate", []string{"migrate"}, map[string]string{"AUTH_DATABASE_URL": t.TempDir() + "/auth.db"}, 0},
		{"database in a missing directory", []string{"migrate"}, map[string]string{"AUTH_DATABASE_URL": t.TempDir() + "/missing/auth.db"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(context.Background(), tt.args, environ(tt.env), &stdout, &stderr); got != tt.want {
				t.Errorf("exit code = %d, want %d; stderr: %s", got, tt.want, stderr.String())
			}
		})
	}
}

func TestConfigPasswordMinScore(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"off keeps only the length rules", nil, map[string]string{"AUTH_PASSWORD_MIN_SCORE": "0"}, 0},
		{"strictest", nil, map[string]string{"AUTH_PASSWORD_MIN_SCORE": "4"}, 4},
		{"flag wins", []string{"--password-min-score", "3"}, map[string]string{"AUTH_PASSWORD_MIN_SCORE": "1"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseConfig(tt.args, envOf(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.PasswordMinScore; got != tt.want {
				t.Errorf("PasswordMinScore = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestUnknownCommandListsEveryCommand: a mistyped command is answered with
// the commands there are, every one of them.
func TestUnknownCommandListsEveryCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"frobnicate"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	msg := stderr.String()
	if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Errorf("the answer takes more than one line:\n%s", msg)
	}
	for _, c := range commands {
		if !strings.Contains(msg, c.name) {
			t.Errorf("the answer %q does not name the command %s", msg, c.name)
		}
	}
}

// TestUnknownSettingsAreNamed: an AUTH_ variable that is no setting, such as
// a misspelt one, is named in a warning at start.
func TestUnknownSettingsAreNamed(t *testing.T) {
	dir := t.TempDir()
	env := []string{"AUTH_DATABASE_URL=" + filepath.Join(dir, "auth.db"), "AUTH_LIMT_LOGIN_PER_IP=off", "AUTHOR=someone"}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"migrate"}, env, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate = %d: %s", code, &stderr)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "AUTH_LIMT_LOGIN_PER_IP") || !strings.Contains(logs, "level=WARN") {
		t.Errorf("no warning names the unknown AUTH_LIMT_LOGIN_PER_IP:\n%s", logs)
	}
	if strings.Contains(logs, "AUTHOR") || strings.Contains(logs, "AUTH_DATABASE_URL\"") {
		t.Errorf("a warning names a variable that is no typo of a setting:\n%s", logs)
	}
}

// TestREADMEListsEverySettingWithItsDefault: the README's configuration
// table is read from the same settings and defaults as --help.
func TestREADMEListsEverySettingWithItsDefault(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(AUTH_[A-Z0-9_]+)` \\|([^|]*)\\|").FindAllStringSubmatch(string(readme), -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("the README lists %s twice", m[1])
		}
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	defaults := DefaultConfig()
	for _, s := range settings(&defaults) {
		got, ok := rows[s.env]
		if !ok {
			t.Errorf("the README's configuration table lacks %s", s.env)
			continue
		}
		delete(rows, s.env)
		want := ""
		if d := s.value.String(); d != "" {
			want = "`" + d + "`"
		}
		if s.env == "AUTH_AUDIENCE" {
			want = "the public URL"
		}
		if got != want {
			t.Errorf("the README gives %s the default %q, want %q", s.env, got, want)
		}
	}
	for name := range rows {
		t.Errorf("the README lists %s, which is no setting", name)
	}
}
