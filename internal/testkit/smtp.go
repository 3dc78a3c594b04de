package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPTLS is how a capture server offers TLS.
type SMTPTLS int

// The ways a capture server can offer TLS.
const (
	// NoTLS speaks plain text only.
	NoTLS SMTPTLS = iota
	// StartTLS offers the STARTTLS command.
	StartTLS
	// ImplicitTLS speaks TLS from the first byte.
	ImplicitTLS
)

// SMTPBehaviour is how a capture server treats its clients.
type SMTPBehaviour int

// The behaviours of a capture server.
const (
	// Serve speaks SMTP and keeps what it receives.
	Serve SMTPBehaviour = iota
	// Refuse listens nowhere: connections to its port are refused, as to a
	// mail server that is down.
	Refuse
	// Silent accepts connections and never says a word, as a server that
	// hangs.
	Silent
)

// SMTPOptions shape a capture server; the zero value serves plain SMTP to
// anyone.
type SMTPOptions struct {
	// TLS is offered with a self-signed certificate for localhost and
	// 127.0.0.1, which the server's RootCAs trust.
	TLS SMTPTLS
	// Username and Password, when set, are the only credentials AUTH PLAIN
	// accepts, and AUTH is required before MAIL.
	Username, Password string
	// InsecureAuth offers AUTH without TLS too.
	InsecureAuth bool
	// RejectRecipients refuses every recipient with a permanent error.
	RejectRecipients bool
	// EchoPassword repeats a rejected password in the error reply, as a
	// careless server might.
	EchoPassword bool
	// Behaviour is Serve unless set.
	Behaviour SMTPBehaviour
}

// Message is one message as a capture server received it.
type Message struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	Data []byte   // the raw message, headers and body
	TLS  bool     // whether it came over TLS
}

// Credentials are one AUTH attempt as a capture server saw it.
type Credentials struct {
	Username, Password string
	TLS                bool // whether they came over TLS
}

// SMTPServer is an SMTP server on a loopback port that keeps what clients
// send it, until the test ends.
type SMTPServer struct {
	Host string // the IP address it listens on
	Port int
	// RootCAs trusts the server's certificate; nil without TLS.
	RootCAs *x509.CertPool

	opts SMTPOptions

	mu       sync.Mutex
	messages []Message
	auths    []Credentials
	arrived  chan struct{} // closed and replaced when a message arrives
}

// StartSMTP starts a capture server on a free loopback port and stops it when
// the test ends.
func StartSMTP(tb testing.TB, opts SMTPOptions) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{opts: opts, arrived: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = addr.IP.String(), addr.Port
	switch opts.Behaviour {
	case Refuse:
		if err := l.Close(); err != nil {
			tb.Fatalf("close listener: %v", err)
		}
		return s
	case Silent:
		s.hang(tb, l)
		return s
	}

	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = opts.InsecureAuth
	// Clients that abort, as tests make them do, would otherwise clutter
	// the output.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS != NoTLS {
		cert, roots := SelfSignedCert(tb)
		s.RootCAs = roots
		config := &tls.Config{Certificates: []tls.Certificate{cert}}
		if opts.TLS == StartTLS {
			srv.TLSConfig = config
		} else {
			l = tls.NewListener(l, config)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close SMTP server: %v", err)
		}
		// Close misses the listener if Serve has not registered it yet;
		// closing it here as well always ends Serve.
		l.Close()
		if err := <-served; err != nil {
			tb.Errorf("SMTP server: %v", err)
		}
	})
	return s
}

// hang accepts connections on l and holds them, silent, until the test ends.
func (s *SMTPServer) hang(tb testing.TB, l net.Listener) {
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
	tb.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
}

// Addr is the server's host:port.
func (s *SMTPServer) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Messages returns the messages received so far, in order of arrival.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Credentials returns the AUTH attempts seen so far, right or wrong.
func (s *SMTPServer) Credentials() []Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// WaitFor waits until check, given the messages so far, returns "", and
// fails the test with check's last complaint once timeout has passed.
func (s *SMTPServer) WaitFor(tb testing.TB, timeout time.Duration, check func(msgs []Message) string) {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		complaint := check(s.messages)
		arrived := s.arrived
		s.mu.Unlock()
		if complaint == "" {
			return
		}
		select {
		case <-arrived:
		case <-timer.C:
			tb.Fatal(complaint)
		}
	}
}

// Match waits up to 30 seconds for a message to addr whose headers or
// text/plain part match re, and returns the submatches of re in the newest
// such message.
func (s *SMTPServer) Match(tb testing.TB, addr string, re *regexp.Regexp) []string {
	tb.Helper()
	var found []string
	s.WaitFor(tb, 30*time.Second, func(msgs []Message) string {
		for _, m := range slices.Backward(msgs) {
			if !slices.Contains(m.To, addr) {
				continue
			}
			header, _, _ := strings.Cut(string(m.Data), "\r\n\r\n")
			if found = re.FindStringSubmatch(header); found != nil {
				return ""
			}
			if text, err := PlainText(m.Data); err == nil {
				if found = re.FindStringSubmatch(text); found != nil {
					return ""
				}
			}
		}
		return fmt.Sprintf("no email to %s matches %s", addr, re)
	})
	return found
}

// PlainText returns the decoded text/plain part of a raw message: the whole
// body if the message is not multipart.
func PlainText(raw []byte) (string, error) {
	msg, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return "", err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return decodePart(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart()
		if err != nil {
			return "", fmt.Errorf("no text/plain part: %w", err)
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			// NextPart has already undone quoted-printable.
			return decodePart(part, part.Header.Get("Content-Transfer-Encoding"))
		}
	}
}

// decodePart reads a body, undoing base64 if encoding says so.
func decodePart(r io.Reader, encoding string) (string, error) {
	if strings.EqualFold(encoding, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// NewSession implements smtp.Backend.
func (s *SMTPServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{server: s, conn: c}, nil
}

// smtpSession records one client's conversation into its server.
type smtpSession struct {
	server *SMTPServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (s *smtpSession) requiresAuth() bool {
	return s.server.opts.Username != "" || s.server.opts.Password != ""
}

func (s *smtpSession) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

// AuthMechanisms implements smtp.AuthSession.
func (s *smtpSession) AuthMechanisms() []string {
	if !s.requiresAuth() {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth implements smtp.AuthSession.
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if !s.requiresAuth() || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	opts := s.server.opts
	return sasl.NewPlainServer(func(_, username, password string) error {
		s.server.mu.Lock()
		s.server.auths = append(s.server.auths, Credentials{Username: username, Password: password, TLS: s.isTLS()})
		s.server.mu.Unlock()
		if username != opts.Username || password != opts.Password {
			if opts.EchoPassword {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Wrong password " + password}
			}
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

// Mail implements smtp.Session.
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.requiresAuth() && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

// Rcpt implements smtp.Session.
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.server.opts.RejectRecipients {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}

// Data implements smtp.Session: it keeps one message per DATA command.
func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.server.mu.Lock()
	defer s.server.mu.Unlock()
	s.server.messages = append(s.server.messages, Message{From: s.from, To: s.to, Data: data, TLS: s.isTLS()})
	close(s.server.arrived)
	s.server.arrived = make(chan struct{})
	return nil
}

// Reset implements smtp.Session.
func (s *smtpSession) Reset() {
	s.from, s.to = "", nil
}

// Logout implements smtp.Session.
func (s *smtpSession) Logout() error { return nil }

// SelfSignedCert makes a certificate for localhost and 127.0.0.1, valid for
// an hour either side of now, and a pool that trusts it.
func SelfSignedCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
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
		tb.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
