package auth

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"authapi/domain"
	"authapi/ports"
)

const (
	resetSubject   = "Reset your password"
	changedSubject = "Your password was changed"
)

var resetText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

Someone, hopefully you, asked to reset the password of your account.
Your reset code is {{.Code}}. It expires in {{.ExpiresIn}}.

Choose a new password here:
{{.Link}}

If you did not ask for this, ignore this email: your password stays as it is.
`))

var resetHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>Someone, hopefully you, asked to reset the password of your account.
Your reset code is <strong style="font-size:1.4em;letter-spacing:0.2em">{{.Code}}</strong>.
It expires in {{.ExpiresIn}}.</p>
<p><a href="{{.Link}}">Choose a new password</a></p>
<p style="color:#666">If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>
`))

var changedText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

The password of your account was changed on {{.When}}, and the sessions
that used the old password were logged out.

If you did not do this, reset your password at once and tell us.
`))

var changedHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>The password of your account was changed on {{.When}}, and the sessions that used the old password were logged out.</p>
<p>If you did not do this, reset your password at once and tell us.</p>
</body></html>
`))

// passwordResetMail composes the email with a reset code. Its slot makes a
// newer code's email supersede an older one still queued.
func (s *Service) passwordResetMail(user domain.User, code domain.SecretCode, now time.Time) (ports.OutgoingMail, error) {
	link := s.cfg.PublicURL.JoinPath("reset-password")
	link.RawQuery = url.Values{"email": {string(user.Email)}, "code": {string(code)}}.Encode()
	data := struct {
		FirstName, ExpiresIn, Link string
		Code                       domain.SecretCode
	}{user.FirstName, humanDuration(s.cfg.PasswordResetTTL), link.String(), code}
	return s.composeMail(user, resetSubject, resetText, resetHTML, data,
		"password-reset:"+user.ID, user.PasswordReset.ExpiresAt, now)
}

// passwordChangedMail tells the owner that the password changed, so that a
// change they did not make does not go unnoticed.
func (s *Service) passwordChangedMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := struct{ FirstName, When string }{user.FirstName, now.UTC().Format("2 January 2006 at 15:04 UTC")}
	return s.composeMail(user, changedSubject, changedText, changedHTML, data, "", time.Time{}, now)
}

func (s *Service) composeMail(user domain.User, subject string, text *texttemplate.Template, html *htmltemplate.Template,
	data any, slot string, expires, now time.Time) (ports.OutgoingMail, error) {
	var textBody, htmlBody bytes.Buffer
	if err := text.Execute(&textBody, data); err != nil {
		return ports.OutgoingMail{}, fmt.Errorf("render %q email: %w", subject, err)
	}
	if err := html.Execute(&htmlBody, data); err != nil {
		return ports.OutgoingMail{}, fmt.Errorf("render %q email: %w", subject, err)
	}
	id, err := domain.NewID(now, s.random)
	if err != nil {
		return ports.OutgoingMail{}, err
	}
	return ports.OutgoingMail{
		Message:   ports.Message{ID: id, To: user.Email, Subject: subject, Text: textBody.String(), HTML: htmlBody.String()},
		Slot:      slot,
		ExpiresAt: expires,
		QueuedAt:  now,
	}, nil
}
