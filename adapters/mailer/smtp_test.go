package mailer_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/adapters/mailer"
	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

const (
	testFrom     = "Authapi <no-reply@example.com>"
	testFromAddr = "no-reply@example.com"
	testUser     = "mailer@example.com"
	testPassword = "s3cret-smtp-password"
)

func TestSMTPMailerSendDelivers(t *testing.T) {
	tests := []struct {
		name     string
		server   testkit.SMTPOptions
		config   func(srv *testkit.SMTPServer) mailer.SMTPConfig
		wantTLS  bool
		wantAuth []testkit.Credentials
	}{
		{
			name:   "plain without auth",
			server: testkit.SMTPOptions{},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone}
			},
			wantTLS: false,
		},
		{
			name:   "starttls with auth plain",
			server: testkit.SMTPOptions{TLS: testkit.StartTLS, Username: testUser, Password: testPassword},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"},
				}
			},
			wantTLS:  true,
			wantAuth: []testkit.Credentials{{Username: testUser, Password: testPassword, TLS: true}},
		},
		{
			name:   "starttls verifies the host when no server name is set",
			server: testkit.SMTPOptions{TLS: testkit.StartTLS},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSStartTLS,
					TLSConfig: &tls.Config{RootCAs: srv.RootCAs},
				}
			},
			wantTLS: true,
		},
		{
			name:   "implicit tls with auth plain",
			server: testkit.SMTPOptions{TLS: testkit.ImplicitTLS, Username: testUser, Password: testPassword},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"},
				}
			},
			wantTLS:  true,
			wantAuth: []testkit.Credentials{{Username: testUser, Password: testPassword, TLS: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.StartSMTP(t, tt.server)
			m, err := mailer.NewSMTP(tt.config(srv))
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			msg := activationMessage()

			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			if got[0].TLS != tt.wantTLS {
				t.Errorf("message received over TLS = %v, want %v", got[0].TLS, tt.wantTLS)
			}
			if got[0].From != testFromAddr {
				t.Errorf("MAIL FROM = %q, want %q", got[0].From, testFromAddr)
			}
			if want := []string{msg.To.String()}; !slices.Equal(got[0].To, want) {
				t.Errorf("RCPT TO = %q, want %q", got[0].To, want)
			}
			checkMessage(t, got[0].Data, msg)
			if gotAuth := srv.Credentials(); !slices.Equal(gotAuth, tt.wantAuth) {
				t.Errorf("server saw credentials %+v, want %+v", gotAuth, tt.wantAuth)
			}
		})
	}
}

func TestSMTPMailerSendFails(t *testing.T) {
	// Trusted by the clients of the cases whose server has no TLS, so that
	// they fail for the reason they name, not for a certificate.
	_, roots := testkit.SelfSignedCert(t)
	tests := []struct {
		name   string
		server testkit.SMTPOptions
		config func(srv *testkit.SMTPServer) mailer.SMTPConfig
	}{
		{
			// Falling back would send the activation code in plain text.
			name:   "starttls required but not offered",
			server: testkit.SMTPOptions{},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSStartTLS,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			// The server would accept AUTH in plain text, so falling back
			// could hand it the password.
			name:   "starttls required but not offered, with credentials",
			server: testkit.SMTPOptions{Username: testUser, Password: testPassword, InsecureAuth: true},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			name:   "starttls with an untrusted certificate",
			server: testkit.SMTPOptions{TLS: testkit.StartTLS, Username: testUser, Password: testPassword},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
				}
			},
		},
		{
			name:   "implicit tls against a plain server",
			server: testkit.SMTPOptions{},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSImplicit,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			name:   "server down",
			server: testkit.SMTPOptions{Behaviour: testkit.Refuse},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone}
			},
		},
		{
			name:   "server never greets",
			server: testkit.SMTPOptions{Behaviour: testkit.Silent},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone,
					Timeout: 100 * time.Millisecond,
				}
			},
		},
		{
			name:   "recipient rejected",
			server: testkit.SMTPOptions{RejectRecipients: true},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone}
			},
		},
		{
			name:   "wrong password",
			server: testkit.SMTPOptions{TLS: testkit.ImplicitTLS, Username: testUser, Password: testPassword},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: "wrong-" + testPassword,
					TLSConfig: &tls.Config{RootCAs: srv.RootCAs},
				}
			},
		},
		{
			name:   "server echoes the password",
			server: testkit.SMTPOptions{TLS: testkit.ImplicitTLS, Username: testUser, Password: testPassword, EchoPassword: true},
			config: func(srv *testkit.SMTPServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: "wrong-" + testPassword,
					TLSConfig: &tls.Config{RootCAs: srv.RootCAs},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.StartSMTP(t, tt.server)
			cfg := tt.config(srv)
			m, err := mailer.NewSMTP(cfg)
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			// The deadline only stops a broken mailer from hanging the
			// test run; every case fails long before it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			err = m.Send(ctx, activationMessage())
			t.Logf("Send error: %v", err)

			if !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("Send error = %v, want one matching domain.ErrUnavailable", err)
			}
			if !strings.HasPrefix(err.Error(), "send email via smtp: ") {
				t.Errorf("Send error %q lacks the context prefix", err)
			}
			if cfg.Password != "" && strings.Contains(err.Error(), cfg.Password) {
				t.Errorf("Send error %q contains the password", err)
			}
			if got := srv.Messages(); len(got) != 0 {
				t.Errorf("server received %d messages, want none", len(got))
			}
			for _, c := range srv.Credentials() {
				if !c.TLS {
					t.Errorf("server received credentials %+v in plain text", c)
				}
			}
		})
	}
}

func TestSMTPMailerSendHonoursDoneContext(t *testing.T) {
	srv := testkit.StartSMTP(t, testkit.SMTPOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err = m.Send(ctx, activationMessage())

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send error = %v, want context.Canceled", err)
	}
	if got := srv.Messages(); len(got) != 0 {
		t.Errorf("server received %d messages, want none", len(got))
	}
}

func TestSMTPMailerSendKeepsSubjectInOneHeader(t *testing.T) {
	srv := testkit.StartSMTP(t, testkit.SMTPOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	msg := activationMessage()
	msg.Subject = "Hello\r\nBcc: eve@example.com"

	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if want := []string{msg.To.String()}; !slices.Equal(got[0].To, want) {
		t.Errorf("RCPT TO = %q, want %q", got[0].To, want)
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatalf("parse received message: %v", err)
	}
	if bcc := parsed.Header.Get("Bcc"); bcc != "" {
		t.Errorf("subject injected a Bcc header %q", bcc)
	}
}

func TestSMTPMailerSendConcurrently(t *testing.T) {
	srv := testkit.StartSMTP(t, testkit.SMTPOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: testFrom, TLS: mailer.TLSNone})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	const senders = 4
	errs := make(chan error, senders)
	for i := range senders {
		go func() {
			msg := activationMessage()
			msg.To = domain.Email(fmt.Sprintf("user%d@example.com", i))
			errs <- m.Send(context.Background(), msg)
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Errorf("Send: %v", err)
		}
	}

	var got []string
	for _, r := range srv.Messages() {
		got = append(got, r.To...)
	}
	slices.Sort(got)
	want := []string{"user0@example.com", "user1@example.com", "user2@example.com", "user3@example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("server received messages for %q, want %q", got, want)
	}
}

func TestNewSMTPRejectsInvalidConfig(t *testing.T) {
	valid := mailer.SMTPConfig{Host: "smtp.example.com", Port: 587, From: testFrom, TLS: mailer.TLSStartTLS,
		Username: testUser, Password: testPassword}
	tests := []struct {
		name    string
		change  func(*mailer.SMTPConfig)
		wantErr string
	}{
		{name: "missing host", change: func(c *mailer.SMTPConfig) { c.Host = " " }, wantErr: "host is required"},
		{name: "host with port", change: func(c *mailer.SMTPConfig) { c.Host = "smtp.example.com:587" }, wantErr: "without a port"},
		{name: "port out of range", change: func(c *mailer.SMTPConfig) { c.Port = 70000 }, wantErr: "port 70000"},
		{name: "missing from", change: func(c *mailer.SMTPConfig) { c.From = "" }, wantErr: "from is required"},
		{name: "invalid from", change: func(c *mailer.SMTPConfig) { c.From = "no-reply.example.com" }, wantErr: "not a valid email address"},
		{name: "unknown tls mode", change: func(c *mailer.SMTPConfig) { c.TLS = mailer.TLSMode(42) }, wantErr: "unknown tls mode"},
		{name: "credentials without tls", change: func(c *mailer.SMTPConfig) { c.TLS = mailer.TLSNone }, wantErr: "plain text"},
		{name: "negative timeout", change: func(c *mailer.SMTPConfig) { c.Timeout = -time.Second }, wantErr: "timeout"},
	}
	if _, err := mailer.NewSMTP(valid); err != nil {
		t.Fatalf("NewSMTP(valid config): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)

			got, err := mailer.NewSMTP(cfg)

			if err == nil {
				t.Fatalf("NewSMTP = %v, nil; want an error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewSMTP error = %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("NewSMTP error %q contains the password", err)
			}
		})
	}
}

func TestParseTLSMode(t *testing.T) {
	tests := []struct {
		in      string
		want    mailer.TLSMode
		wantErr bool
	}{
		{in: "starttls", want: mailer.TLSStartTLS},
		{in: "tls", want: mailer.TLSImplicit},
		{in: "none", want: mailer.TLSNone},
		{in: " STARTTLS ", want: mailer.TLSStartTLS},
		{in: "", wantErr: true},
		{in: "ssl", wantErr: true},
		{in: "plain", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := mailer.ParseTLSMode(tt.in)

			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseTLSMode(%q) = %v, nil; want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTLSMode(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseTLSMode(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if again, err := mailer.ParseTLSMode(got.String()); err != nil || again != got {
				t.Errorf("ParseTLSMode(%q.String()) = %v, %v; want %v", got, again, err, got)
			}
		})
	}
}

// checkMessage parses data as the email the mailer built from msg.
func checkMessage(t *testing.T, data []byte, msg ports.Message) {
	t.Helper()
	parsed, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received message: %v", err)
	}
	h := parsed.Header

	from, err := netmail.ParseAddress(h.Get("From"))
	if err != nil {
		t.Errorf("parse From %q: %v", h.Get("From"), err)
	} else if from.Name != "Authapi" || from.Address != testFromAddr {
		t.Errorf("From = %q, want %q", h.Get("From"), testFrom)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != msg.To.String() {
		t.Errorf("To = %q (%v), want %q", h.Get("To"), err, msg.To)
	}
	rawSubject := h.Get("Subject")
	if strings.ContainsFunc(rawSubject, func(r rune) bool { return r > 127 }) {
		t.Errorf("raw Subject %q is not encoded as 7-bit ASCII", rawSubject)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil || subject != msg.Subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q", rawSubject, subject, err, msg.Subject)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[^<>@\s]+@[^<>@\s]+>$`).MatchString(id) {
		t.Errorf("Message-ID = %q, want <local@domain>", id)
	}
	if msg.ID != "" && !strings.HasPrefix(h.Get("Message-Id"), "<"+msg.ID+"@") {
		t.Errorf("Message-ID = %q, want it derived from the message id %q", h.Get("Message-Id"), msg.ID)
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", h.Get("Content-Type"), err)
	}
	var gotTypes []string
	bodies := map[string]string{}
	parts := multipart.NewReader(parsed.Body, params["boundary"])
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read MIME part: %v", err)
		}
		partType, partParams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		if !strings.EqualFold(partParams["charset"], "utf-8") {
			t.Errorf("%s part charset = %q, want UTF-8", partType, partParams["charset"])
		}
		// NextPart has already undone the quoted-printable encoding.
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read %s part: %v", partType, err)
		}
		gotTypes = append(gotTypes, partType)
		bodies[partType] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	// Clients show the last alternative they understand, so HTML goes last.
	if want := []string{"text/plain", "text/html"}; !slices.Equal(gotTypes, want) {
		t.Fatalf("parts = %q, want %q", gotTypes, want)
	}
	if got, want := bodies["text/plain"], msg.Text; got != want {
		t.Errorf("text part = %q, want %q", got, want)
	}
	if got, want := bodies["text/html"], msg.HTML; got != want {
		t.Errorf("HTML part = %q, want %q", got, want)
	}
}
