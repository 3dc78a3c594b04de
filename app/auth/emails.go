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

// activationMail composes the email that carries an activation code. Its
// slot makes a newer code's email supersede an older one still queued, and it
// expires with the code.
func (s *Service) activationMail(user domain.User, code domain.SecretCode, now time.Time) (ports.OutgoingMail, error) {
	data := activationEmail{
		FirstName: user.FirstName,
		Code:      code,
		ExpiresIn: humanDuration(s.cfg.ActivationCodeTTL),
		Link:      s.activationLink(user.Email, code),
	}
	return s.composeMail(user, activationSubject, activationText, activationHTML, data,
		"activation:"+user.ID, user.Activation.ExpiresAt, now)
}

// activationLink points to the service's /activate page, which shows the code
// and asks for a click before verifying: mail scanners follow links, so
// opening one must change nothing.
func (s *Service) activationLink(email domain.Email, code domain.SecretCode) string {
	link := s.cfg.PublicURL.JoinPath("activate")
	link.RawQuery = url.Values{"email": {string(email)}, "code": {string(code)}}.Encode()
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
