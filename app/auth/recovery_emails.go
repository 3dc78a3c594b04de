package auth

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"authapi/domain"
	"authapi/ports"
)

const (
	resetSubject         = "Reset your password"
	changedSubject       = "Your password was changed"
	unlockSubject        = "Your account was locked"
	deletedSubject       = "Your account was deleted"
	signupAttemptSubject = "Someone tried to sign up with your email address"
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

// passwordResetMail composes the email with a reset code and link. Its slot
// makes a newer code's email supersede an older one still queued.
func (s *Service) passwordResetMail(user domain.User, secrets domain.CodeSecrets, now time.Time) (ports.OutgoingMail, error) {
	data := struct {
		FirstName, ExpiresIn, Link string
		Code                       domain.SecretCode
	}{user.FirstName, humanDuration(s.cfg.PasswordResetTTL), s.link("reset-password", user.Email, secrets.Link), secrets.Code}
	return s.composeMail(user, resetSubject, resetText, resetHTML, data,
		"password-reset:"+user.ID, user.PasswordReset.ExpiresAt, now)
}

var unlockText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

Someone gave the wrong password for your account many times in a row, so
logins to it are stopped until {{.Until}}.

If it was you, unlock your account now:
{{.Link}}

If it was not you, someone may be guessing your password. Your password was
not given away; consider changing it to one you use nowhere else.
`))

var unlockHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>Someone gave the wrong password for your account many times in a row, so logins to it are stopped until {{.Until}}.</p>
<p><a href="{{.Link}}">If it was you, unlock your account now</a></p>
<p style="color:#666">If it was not you, someone may be guessing your password. Your password was not given away; consider changing it to one you use nowhere else.</p>
</body></html>
`))

// unlockMail tells the owner that the account is locked and carries the
// link that lifts the lock at once. Its slot makes a newer link's email
// supersede an older one still queued.
func (s *Service) unlockMail(user domain.User, token domain.LinkToken, until, now time.Time) (ports.OutgoingMail, error) {
	data := struct{ FirstName, Until, Link string }{user.FirstName, until.UTC().Format(noticeTimeLayout), s.link("unlock", user.Email, token)}
	return s.composeMail(user, unlockSubject, unlockText, unlockHTML, data, "unlock:"+user.ID, user.Unlock.ExpiresAt, now)
}

var deletedText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

Your account was deleted on {{.When}}, with every session and everything
it held. Nothing is left to log in to.

If you did not do this, someone knew your password; sign up again and use a
password you use nowhere else.
`))

var deletedHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>Your account was deleted on {{.When}}, with every session and everything it held. Nothing is left to log in to.</p>
<p>If you did not do this, someone knew your password; sign up again and use a password you use nowhere else.</p>
</body></html>
`))

// accountDeletedMail tells the owner that the account is gone, so that a
// deletion they did not make does not go unnoticed.
func (s *Service) accountDeletedMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := struct{ FirstName, When string }{user.FirstName, now.UTC().Format(noticeTimeLayout)}
	return s.composeMail(user, deletedSubject, deletedText, deletedHTML, data, "", time.Time{}, now)
}

var signupAttemptText = texttemplate.Must(texttemplate.New("text").Parse(
	`Hi {{.FirstName}},

Someone tried to create an account with this email address on {{.When}},
but you already have one.

If it was you, log in with your password, or ask for a password reset if
you have forgotten it. If it was not you, you can ignore this email.
`))

var signupAttemptHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
	`<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hi {{.FirstName}},</p>
<p>Someone tried to create an account with this email address on {{.When}}, but you already have one.</p>
<p>If it was you, log in with your password, or ask for a password reset if you have forgotten it.</p>
<p style="color:#666">If it was not you, you can ignore this email.</p>
</body></html>
`))

// signupAttemptMail tells the owner of an account that someone tried to sign
// up with its address, which the signup answer hides when accounts are
// concealed. Its slot keeps a burst of attempts to one email.
func (s *Service) signupAttemptMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := struct{ FirstName, When string }{user.FirstName, now.UTC().Format(noticeTimeLayout)}
	return s.composeMail(user, signupAttemptSubject, signupAttemptText, signupAttemptHTML, data, "signup-attempt:"+user.ID, time.Time{}, now)
}

// noticeTimeLayout writes times in notices for people.
const noticeTimeLayout = "2 January 2006 at 15:04 UTC"

// passwordChangedMail tells the owner that the password changed, so that a
// change they did not make does not go unnoticed.
func (s *Service) passwordChangedMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := struct{ FirstName, When string }{user.FirstName, now.UTC().Format(noticeTimeLayout)}
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
