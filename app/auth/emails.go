package auth

import (
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"authapi/domain"
	"authapi/ports"
)

const activationSubject = "Your activation code"

var activationText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

Your activation code is {{.Code}}. It expires in {{.ExpiresIn}}.

Activate your account here:
{{.Link}}

If you did not sign up, you can ignore this email.
`))

var activationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>Your activation code is <strong style="font-size:1.4em;letter-spacing:0.2em">{{.Code}}</strong>.
It expires in {{.ExpiresIn}}.</p>
<p><a href="{{.Link}}">Activate your account</a></p>
<p style="color:#666">If you did not sign up, you can ignore this email.</p>
</body></html>
`))

type activationEmail struct {
	FirstName string
	Code      domain.SecretCode
	ExpiresIn string
	Link      string
}

// activationMail composes the email that carries an activation code and
// link. Its slot makes a newer code's email supersede an older one still
// queued, and it expires with the code.
func (s *Service) activationMail(user domain.User, secrets domain.CodeSecrets, now time.Time) (ports.OutgoingMail, error) {
	data := activationEmail{
		FirstName: user.FirstName,
		Code:      secrets.Code,
		ExpiresIn: humanDuration(s.cfg.ActivationCodeTTL),
		Link:      s.link("activate", user.Email, secrets.Link),
	}
	return s.composeMail(user, activationSubject, activationText, activationHTML, data,
		"activation:"+user.ID, user.Activation.ExpiresAt, now)
}

// link points to one of the service's pages, which asks for a click before
// acting: mail scanners follow links, so opening one must change nothing.
// It carries the long token, never the short code, which is for typing.
func (s *Service) link(page string, email domain.Email, token domain.LinkToken) string {
	link := s.cfg.PublicURL.JoinPath(page)
	link.RawQuery = url.Values{"email": {string(email)}, "token": {string(token)}}.Encode()
	return link.String()
}

// humanDuration renders a TTL for people: "1 hour", "15 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d.Round(time.Second)/time.Second), "second")
	}
}
