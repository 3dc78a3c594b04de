package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.Mailer = (*SMTPMailer)(nil)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode int

// The supported TLS modes. TLSStartTLS is the zero value, so a configuration
// that forgets to choose gets the safe behaviour rather than plain text.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before
	// authenticating or sending anything. A server that does not offer
	// STARTTLS is an error: falling back to plain text would expose the
	// credentials and the activation codes to anyone on the path.
	TLSStartTLS TLSMode = iota
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit
	// TLSNone sends everything in plain text. It exists for local mail
	// catchers such as Mailpit and therefore refuses credentials.
	TLSNone
)

// String returns the configuration spelling of m, the one ParseTLSMode reads.
func (m TLSMode) String() string {
	switch m {
	case TLSStartTLS:
		return "starttls"
	case TLSImplicit:
		return "tls"
	case TLSNone:
		return "none"
	default:
		return fmt.Sprintf("TLSMode(%d)", int(m))
	}
}

// ParseTLSMode reads a TLS mode from configuration: "starttls", "tls" or
// "none", ignoring case and surrounding spaces.
func ParseTLSMode(s string) (TLSMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "starttls":
		return TLSStartTLS, nil
	case "tls":
		return TLSImplicit, nil
	case "none":
		return TLSNone, nil
	default:
		return 0, fmt.Errorf("parse smtp tls mode %q: want starttls, tls or none", s)
	}
}

// defaultTimeout bounds each network step (connect, every command) when the
// configuration sets no timeout. A stalled server then fails a signup within
// seconds instead of holding the request until the client gives up.
const defaultTimeout = 10 * time.Second

// SMTPConfig tells SMTPMailer where and how to deliver.
type SMTPConfig struct {
	// Host is the server's DNS name or IPv4 address, without a port.
	Host string
	// Port is the server's TCP port; 0 picks the usual port of the TLS
	// mode: 587 for STARTTLS, 465 for implicit TLS, 25 for none.
	Port int
	// Username enables SMTP AUTH when set; Password goes with it.
	Username string
	// Password authenticates Username. It never appears in errors.
	Password string
	// From is the sender, a bare address or one with a display name
	// ("Example <no-reply@example.com>").
	From string
	// TLS chooses how the connection is protected.
	TLS TLSMode
	// Timeout bounds the connection attempt and each SMTP command; 0 means
	// 10 seconds.
	Timeout time.Duration
	// TLSConfig optionally replaces the default TLS settings, for example to
	// trust a private CA. An empty ServerName defaults to Host.
	TLSConfig *tls.Config
}

// SMTPMailer sends email through one SMTP server, opening a connection for
// each message. It is safe for concurrent use.
type SMTPMailer struct {
	// client holds only settings: go-mail dials a fresh connection on each
	// DialAndSendWithContext and guards its settings with a lock, so one
	// client serves concurrent Sends.
	client *mail.Client
	from   *netmail.Address
	// password is kept only to scrub it from error text, in case a server
	// or library ever echoes it.
	password string
}

// NewSMTP validates cfg and prepares a mailer. It does not contact the
// server, so the service starts even while the mail server is down.
func NewSMTP(cfg SMTPConfig) (*SMTPMailer, error) {
	from, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("configure smtp mailer: %w", err)
	}

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	opts := []mail.Option{mail.WithPort(cfg.port()), mail.WithTimeout(timeout)}
	switch cfg.TLS {
	case TLSStartTLS:
		// WithTLSPolicy, not WithTLSPortPolicy: the latter may retry on
		// port 25 without TLS.
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(cfg.tlsConfig()))
	case TLSImplicit:
		// WithSSL, not WithSSLPort, which can also fall back to port 25.
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(cfg.tlsConfig()))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if cfg.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers
		// and considers PLAIN and LOGIN only on an encrypted connection.
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(cfg.Username),
			mail.WithPassword(cfg.Password),
		)
	}
	client, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure smtp mailer: %s", scrub(err.Error(), cfg.Password))
	}
	return &SMTPMailer{client: client, from: from, password: cfg.Password}, nil
}

// Send delivers msg as a multipart/alternative email (plain text and HTML)
// over a new connection. If ctx is already done it returns ctx's error
// without connecting. Delivery failures, including a server that is down,
// lacks STARTTLS, rejects the credentials or the recipient, match
// domain.ErrUnavailable, and also ctx's error if ctx ended meanwhile. ctx
// bounds the connection attempt; the configured timeout bounds every step
// after it.
func (m *SMTPMailer) Send(ctx context.Context, msg ports.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send email via smtp: %w", err)
	}
	email, err := m.compose(msg)
	if err != nil {
		return fmt.Errorf("send email via smtp: %w", err)
	}
	if err := m.client.DialAndSendWithContext(ctx, email); err != nil {
		// Only the text of the library's error is kept, so that its types
		// stay inside this adapter.
		detail := scrub(err.Error(), m.password)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("send email via smtp: %s: %w: %w", detail, ctxErr, domain.ErrUnavailable)
		}
		return fmt.Errorf("send email via smtp: %s: %w", detail, domain.ErrUnavailable)
	}
	return nil
}

// compose builds the email for msg.
func (m *SMTPMailer) compose(msg ports.Message) (*mail.Msg, error) {
	// No User-Agent header: it would only advertise the software stack.
	email := mail.NewMsg(mail.WithNoDefaultUserAgent())
	email.FromMailAddress(m.from)
	if err := email.To(msg.To.String()); err != nil {
		return nil, fmt.Errorf("invalid recipient: %s", err.Error())
	}
	// go-mail encodes the subject as an RFC 2047 word when it holds
	// non-ASCII or control characters, so a CR LF cannot inject headers.
	email.Subject(msg.Subject)
	email.SetDate()
	if msg.ID != "" {
		// A stable Message-ID makes a repeated delivery of the same outbox
		// message recognisable as a duplicate.
		email.SetMessageIDWithValue(msg.ID + "@" + domainOf(m.from.Address))
	} else {
		email.SetMessageID()
	}
	email.SetBodyString(mail.TypeTextPlain, msg.Text)
	email.AddAlternativeString(mail.TypeTextHTML, msg.HTML)
	return email, nil
}

// validate reports every problem of c at once, so an operator fixes the
// configuration in one go, and returns the parsed sender.
func (c SMTPConfig) validate() (*netmail.Address, error) {
	var problems []error
	switch {
	case strings.TrimSpace(c.Host) == "":
		problems = append(problems, errors.New("host is required"))
	case strings.ContainsAny(c.Host, ": /"):
		// go-mail joins host and port as "host:port", so an IPv6 literal
		// cannot be dialled either; a name that resolves to it can.
		problems = append(problems, fmt.Errorf("host %q must be a DNS name or IPv4 address without a port", c.Host))
	}
	if c.Port < 0 || c.Port > 65535 {
		problems = append(problems, fmt.Errorf("port %d is out of range", c.Port))
	}
	var from *netmail.Address
	if strings.TrimSpace(c.From) == "" {
		problems = append(problems, errors.New("from is required"))
	} else {
		addr, err := netmail.ParseAddress(c.From)
		if err != nil {
			problems = append(problems, fmt.Errorf("from %q is not a valid email address", c.From))
		}
		from = addr
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		// Credentials in plain text would be readable by anyone on the
		// path; a local mail catcher needs none, and a real server should
		// be reached with TLS.
		if c.Username != "" {
			problems = append(problems, errors.New("username is set but tls mode none would send the credentials in plain text; use starttls or tls"))
		}
	default:
		problems = append(problems, fmt.Errorf("unknown tls mode %s", c.TLS))
	}
	if c.Timeout < 0 {
		problems = append(problems, fmt.Errorf("timeout %s is negative", c.Timeout))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return from, nil
}

// port returns the configured port or the usual one of the TLS mode.
func (c SMTPConfig) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.TLS {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	default:
		return 587
	}
}

// tlsConfig returns a copy of the configured TLS settings, completed with
// the server name to verify and a TLS 1.2 floor, so the caller's value is
// never modified.
func (c SMTPConfig) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if c.TLSConfig != nil {
		cfg = c.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = c.Host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// domainOf returns the domain part of an address, for Message-IDs that are
// unique to the sender.
func domainOf(address string) string {
	if at := strings.LastIndexByte(address, '@'); at >= 0 {
		return address[at+1:]
	}
	return "localhost"
}

// scrub removes secret from text.
func scrub(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "[redacted]")
}
