package testkit_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// message is a two-part email as the service sends them: text, quoted-
// printable, and HTML, base64.
const message = "From: Authapi <no-reply@example.com>\r\n" +
	"To: zoe@example.com\r\n" +
	"Subject: Welcome\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hello Zo=C3=AB, your activation code is 493817.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+NDkzODE3PC9wPg==\r\n" +
	"--b1--\r\n"

func TestSMTPServerReceives(t *testing.T) {
	const user, password = "mailer@example.com", "s3cret"
	tests := []struct {
		name     string
		opts     testkit.SMTPOptions
		send     func(t *testing.T, srv *testkit.SMTPServer) error
		wantTLS  bool
		wantAuth []testkit.Credentials
	}{
		{
			name: "plain",
			send: func(t *testing.T, srv *testkit.SMTPServer) error {
				return smtp.SendMail(srv.Addr(), nil, "no-reply@example.com", []string{"zoe@example.com"}, []byte(message))
			},
		},
		{
			name: "starttls with auth",
			opts: testkit.SMTPOptions{TLS: testkit.StartTLS, Username: user, Password: password},
			send: func(t *testing.T, srv *testkit.SMTPServer) error {
				c, err := smtp.Dial(srv.Addr())
				if err != nil {
					return err
				}
				defer c.Close()
				if ok, _ := c.Extension("STARTTLS"); !ok {
					return errors.New("STARTTLS is not offered")
				}
				if err := c.StartTLS(&tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"}); err != nil {
					return err
				}
				return sendOn(c, smtp.PlainAuth("", user, password, srv.Host))
			},
			wantTLS:  true,
			wantAuth: []testkit.Credentials{{Username: user, Password: password, TLS: true}},
		},
		{
			name: "implicit tls with auth",
			opts: testkit.SMTPOptions{TLS: testkit.ImplicitTLS, Username: user, Password: password},
			send: func(t *testing.T, srv *testkit.SMTPServer) error {
				conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"})
				if err != nil {
					return err
				}
				c, err := smtp.NewClient(conn, "localhost")
				if err != nil {
					return err
				}
				defer c.Close()
				return sendOn(c, smtp.PlainAuth("", user, password, "localhost"))
			},
			wantTLS:  true,
			wantAuth: []testkit.Credentials{{Username: user, Password: password, TLS: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.StartSMTP(t, tt.opts)

			if err := tt.send(t, srv); err != nil {
				t.Fatalf("send: %v", err)
			}

			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("the server holds %d messages, want 1", len(got))
			}
			m := got[0]
			if m.From != "no-reply@example.com" || !slices.Equal(m.To, []string{"zoe@example.com"}) || m.TLS != tt.wantTLS {
				t.Errorf("envelope = from %q to %q over TLS %v, want from no-reply@example.com to zoe@example.com over TLS %v",
					m.From, m.To, m.TLS, tt.wantTLS)
			}
			if string(m.Data) != message {
				t.Errorf("data = %q, want %q", m.Data, message)
			}
			if got := srv.Credentials(); !slices.Equal(got, tt.wantAuth) {
				t.Errorf("credentials = %+v, want %+v", got, tt.wantAuth)
			}
		})
	}
}

// sendOn authenticates on c, sends the test message and quits.
func sendOn(c *smtp.Client, auth smtp.Auth) error {
	if err := c.Auth(auth); err != nil {
		return err
	}
	if err := c.Mail("no-reply@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt("zoe@example.com"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(message)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestSMTPServerRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts testkit.SMTPOptions
		send func(addr string) error
	}{
		{
			name: "mail without the required auth",
			opts: testkit.SMTPOptions{Username: "u", Password: "p"},
			send: func(addr string) error {
				return smtp.SendMail(addr, nil, "no-reply@example.com", []string{"zoe@example.com"}, []byte(message))
			},
		},
		{
			name: "wrong password",
			opts: testkit.SMTPOptions{TLS: testkit.StartTLS, Username: "u", Password: "p"},
			send: func(addr string) error {
				c, err := smtp.Dial(addr)
				if err != nil {
					return err
				}
				defer c.Close()
				// The certificate is not checked: only the password matters here.
				if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
					return err
				}
				return sendOn(c, smtp.PlainAuth("", "u", "wrong", "127.0.0.1"))
			},
		},
		{
			name: "rejected recipient",
			opts: testkit.SMTPOptions{RejectRecipients: true},
			send: func(addr string) error {
				return smtp.SendMail(addr, nil, "no-reply@example.com", []string{"zoe@example.com"}, []byte(message))
			},
		},
		{
			name: "server down",
			opts: testkit.SMTPOptions{Behaviour: testkit.Refuse},
			send: func(addr string) error {
				_, err := net.DialTimeout("tcp", addr, 5*time.Second)
				return err
			},
		},
		{
			name: "server never greets",
			opts: testkit.SMTPOptions{Behaviour: testkit.Silent},
			send: func(addr string) error {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					return fmt.Errorf("dial a silent server: %w, want it accepted", err)
				}
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				n, err := conn.Read(make([]byte, 1))
				if n > 0 {
					return nil // it spoke: the case fails below
				}
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.StartSMTP(t, tt.opts)

			err := tt.send(srv.Addr())

			t.Logf("send error: %v", err)
			if err == nil {
				t.Error("send succeeded, want an error")
			}
			if got := srv.Messages(); len(got) != 0 {
				t.Errorf("the server holds %d messages, want none", len(got))
			}
		})
	}
}

func TestSMTPServerEchoesPassword(t *testing.T) {
	srv := testkit.StartSMTP(t, testkit.SMTPOptions{Username: "u", Password: "p", InsecureAuth: true, EchoPassword: true})
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// net/smtp sends PLAIN in the clear only to localhost.
	err = c.Auth(smtp.PlainAuth("", "u", "hunter2", "127.0.0.1"))
	if err == nil || !strings.Contains(err.Error(), "hunter2") {
		t.Errorf("auth error = %v, want one repeating the password", err)
	}
	if got, want := srv.Credentials(), []testkit.Credentials{{Username: "u", Password: "hunter2"}}; !slices.Equal(got, want) {
		t.Errorf("credentials = %+v, want %+v", got, want)
	}
}

func TestSMTPServerMatchAndWaitFor(t *testing.T) {
	srv := testkit.StartSMTP(t, testkit.SMTPOptions{})
	var sender sync.WaitGroup
	defer sender.Wait() // the sender's QUIT comes after the server has kept the message
	sender.Go(func() {
		// Arrives after the waiting has begun.
		time.Sleep(20 * time.Millisecond)
		second := strings.Replace(message, "493817", "111222", 1)
		for _, m := range []string{message, second} {
			if err := smtp.SendMail(srv.Addr(), nil, "no-reply@example.com", []string{"zoe@example.com"}, []byte(m)); err != nil {
				t.Errorf("send: %v", err)
			}
		}
	})
	srv.WaitFor(t, 10*time.Second, func(msgs []testkit.Message) string {
		if len(msgs) < 2 {
			return fmt.Sprintf("%d messages, want 2", len(msgs))
		}
		return ""
	})

	code := regexp.MustCompile(`activation code is (\d{6})`)
	if got := srv.Match(t, "zoe@example.com", code); got[1] != "111222" {
		t.Errorf("Match found code %q, want the newest message's, 111222", got[1])
	}
	if got := srv.Match(t, "zoe@example.com", regexp.MustCompile(`(?m)^Subject: (\w+)\r?$`)); got[1] != "Welcome" {
		t.Errorf("Match found subject %q in the headers, want Welcome", got[1])
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"quoted-printable part of a multipart message", message, "Hello Zoë, your activation code is 493817."},
		{"base64 single part", "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nWm/DqyE=\r\n", "Zoë!"},
		{"plain single part", "Content-Type: text/plain\r\n\r\nhello\r\n", "hello\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testkit.PlainText([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PlainText = %q, want %q", got, tt.want)
			}
		})
	}
	noText := "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"
	if got, err := testkit.PlainText([]byte(noText)); err == nil {
		t.Errorf("PlainText of a message without a text part = %q, nil; want an error", got)
	}
}
