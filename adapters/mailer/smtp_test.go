package mailer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"authapi/adapters/mailer"
	"authapi/domain"
	"authapi/ports"
)

const (
	testFrom     = "Authapi <no-reply@example.com>"
	testFromAddr = "no-reply@example.com"
	testUser     = "mailer@example.com"
	testPassword = "s3cret-smtp-password"
)

func TestSMTPMailerSendDelivers(t *testing.T) {
	cert, roots := selfSignedCert(t)
	tests := []struct {
		name     string
		server   serverOptions
		config   func(srv *testServer) mailer.SMTPConfig
		wantTLS  bool
		wantAuth []credentials
	}{
		{
			name:   "plain without auth",
			server: serverOptions{},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone}
			},
			wantTLS: false,
		},
		{
			name:   "starttls with auth plain",
			server: serverOptions{startTLS: &cert, auth: true},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"},
				}
			},
			wantTLS:  true,
			wantAuth: []credentials{{username: testUser, password: testPassword, tls: true}},
		},
		{
			name:   "starttls verifies the host when no server name is set",
			server: serverOptions{startTLS: &cert},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSStartTLS,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
			wantTLS: true,
		},
		{
			name:   "implicit tls with auth plain",
			server: serverOptions{implicitTLS: &cert, auth: true},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"},
				}
			},
			wantTLS:  true,
			wantAuth: []credentials{{username: testUser, password: testPassword, tls: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.server)
			m, err := mailer.NewSMTP(tt.config(srv))
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			msg := activationMessage()

			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := srv.messages()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			if got[0].tls != tt.wantTLS {
				t.Errorf("message received over TLS = %v, want %v", got[0].tls, tt.wantTLS)
			}
			if got[0].from != testFromAddr {
				t.Errorf("MAIL FROM = %q, want %q", got[0].from, testFromAddr)
			}
			if want := []string{msg.To.String()}; !slices.Equal(got[0].to, want) {
				t.Errorf("RCPT TO = %q, want %q", got[0].to, want)
			}
			checkMessage(t, got[0].data, msg)
			if gotAuth := srv.credentials(); !slices.Equal(gotAuth, tt.wantAuth) {
				t.Errorf("server saw credentials %+v, want %+v", gotAuth, tt.wantAuth)
			}
		})
	}
}

func TestSMTPMailerSendFails(t *testing.T) {
	cert, roots := selfSignedCert(t)
	tests := []struct {
		name   string
		server func(t *testing.T) *testServer
		config func(srv *testServer) mailer.SMTPConfig
	}{
		{
			// Falling back would send the activation code in plain text.
			name: "starttls required but not offered",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSStartTLS,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			// The server would accept AUTH in plain text, so falling back
			// could hand it the password.
			name: "starttls required but not offered, with credentials",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{auth: true, insecureAuth: true})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			name: "starttls with an untrusted certificate",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{startTLS: &cert, auth: true})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSStartTLS,
					Username: testUser, Password: testPassword,
				}
			},
		},
		{
			name: "implicit tls against a plain server",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSImplicit,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			name:   "server down",
			server: closedPort,
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone}
			},
		},
		{
			name:   "server never greets",
			server: silentServer,
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone,
					Timeout: 100 * time.Millisecond,
				}
			},
		},
		{
			name: "recipient rejected",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{rejectRcpt: true})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone}
			},
		},
		{
			name: "wrong password",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{implicitTLS: &cert, auth: true})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: "wrong-" + testPassword,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
		{
			name: "server echoes the password",
			server: func(t *testing.T) *testServer {
				return startServer(t, serverOptions{implicitTLS: &cert, auth: true, echoPassword: true})
			},
			config: func(srv *testServer) mailer.SMTPConfig {
				return mailer.SMTPConfig{
					Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSImplicit,
					Username: testUser, Password: "wrong-" + testPassword,
					TLSConfig: &tls.Config{RootCAs: roots},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server(t)
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
			if got := srv.messages(); len(got) != 0 {
				t.Errorf("server received %d messages, want none", len(got))
			}
			for _, c := range srv.credentials() {
				if !c.tls {
					t.Errorf("server received credentials %+v in plain text", c)
				}
			}
		})
	}
}

func TestSMTPMailerSendHonoursDoneContext(t *testing.T) {
	srv := startServer(t, serverOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err = m.Send(ctx, activationMessage())

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send error = %v, want context.Canceled", err)
	}
	if got := srv.messages(); len(got) != 0 {
		t.Errorf("server received %d messages, want none", len(got))
	}
}

func TestSMTPMailerSendKeepsSubjectInOneHeader(t *testing.T) {
	srv := startServer(t, serverOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	msg := activationMessage()
	msg.Subject = "Hello\r\nBcc: eve@example.com"

	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if want := []string{msg.To.String()}; !slices.Equal(got[0].to, want) {
		t.Errorf("RCPT TO = %q, want %q", got[0].to, want)
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(got[0].data))
	if err != nil {
		t.Fatalf("parse received message: %v", err)
	}
	if bcc := parsed.Header.Get("Bcc"); bcc != "" {
		t.Errorf("subject injected a Bcc header %q", bcc)
	}
}

func TestSMTPMailerSendConcurrently(t *testing.T) {
	srv := startServer(t, serverOptions{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.host, Port: srv.port, From: testFrom, TLS: mailer.TLSNone})
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
	for _, r := range srv.messages() {
		got = append(got, r.to...)
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

// serverOptions shapes a test SMTP server.
type serverOptions struct {
	// startTLS, if set, is offered through STARTTLS.
	startTLS *tls.Certificate
	// implicitTLS, if set, makes the listener speak TLS from the first byte.
	implicitTLS *tls.Certificate
	// auth offers AUTH PLAIN, accepts testUser/testPassword and requires it
	// before MAIL.
	auth bool
	// insecureAuth offers AUTH without TLS too.
	insecureAuth bool
	// rejectRcpt refuses every recipient with a permanent error.
	rejectRcpt bool
	// echoPassword repeats a rejected password in the error reply, as a
	// careless server might.
	echoPassword bool
}

// received is one message as the server saw it.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

// credentials is one AUTH attempt as the server saw it.
type credentials struct {
	username, password string
	tls                bool
}

// testServer is a real SMTP server on a loopback port that records what
// clients send it.
type testServer struct {
	host string
	port int
	opts serverOptions

	mu       sync.Mutex
	received []received
	auths    []credentials
}

// startServer runs an SMTP server on a free loopback port until the test
// ends.
func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	ts := &testServer{opts: opts}
	srv := smtp.NewServer(ts)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = opts.insecureAuth
	// Clients that abort, as several tests make them do, would otherwise
	// clutter the output.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.startTLS != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*opts.startTLS}}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if opts.implicitTLS != nil {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*opts.implicitTLS}})
	}
	addr := l.Addr().(*net.TCPAddr)
	ts.host, ts.port = addr.IP.String(), addr.Port

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close SMTP server: %v", err)
		}
		// Close misses the listener if Serve has not registered it yet;
		// closing it here as well always ends Serve.
		l.Close()
		if err := <-served; err != nil {
			t.Errorf("SMTP server: %v", err)
		}
	})
	return ts
}

// closedPort returns the address of a loopback port nobody listens on.
func closedPort(t *testing.T) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return &testServer{host: addr.IP.String(), port: addr.Port}
}

// silentServer accepts connections and never says a word, like a server
// that hangs.
func silentServer(t *testing.T) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	addr := l.Addr().(*net.TCPAddr)
	return &testServer{host: addr.IP.String(), port: addr.Port}
}

func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

func (s *testServer) credentials() []credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// NewSession implements smtp.Backend.
func (s *testServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: c}, nil
}

// session records one client's conversation into its server.
type session struct {
	server *testServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *session) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) AuthMechanisms() []string {
	if !s.server.opts.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.server.opts.auth || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		s.server.mu.Lock()
		s.server.auths = append(s.server.auths, credentials{username: username, password: password, tls: s.isTLS()})
		s.server.mu.Unlock()
		if username != testUser || password != testPassword {
			if s.server.opts.echoPassword {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Wrong password " + password}
			}
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.opts.auth && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.server.opts.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.server.mu.Lock()
	defer s.server.mu.Unlock()
	s.server.received = append(s.server.received, received{from: s.from, to: s.to, data: data, tls: s.isTLS()})
	return nil
}

func (s *session) Reset() {
	s.from, s.to = "", nil
}

func (s *session) Logout() error { return nil }

// selfSignedCert makes a certificate for localhost and 127.0.0.1 and a pool
// that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
