package auth

import (
	"time"

	"authapi/app/emails"
	"authapi/domain"
	"authapi/ports"
)

// passwordResetMail composes the email with a reset code and link. Its slot
// makes a newer code's email supersede an older one still queued.
func (s *Service) passwordResetMail(user domain.User, secrets domain.CodeSecrets, now time.Time) (ports.OutgoingMail, error) {
	data := emails.PasswordReset{
		FirstName: user.FirstName,
		Code:      string(secrets.Code),
		ExpiresIn: humanDuration(s.cfg.PasswordResetTTL),
		Link:      s.link("reset-password", user.Email, secrets.Link),
	}
	return s.composeMail(user, data, "password-reset:"+user.ID, user.PasswordReset.ExpiresAt, now)
}

// unlockMail tells the owner that the account is locked and carries the
// link that lifts the lock at once. Its slot makes a newer link's email
// supersede an older one still queued.
func (s *Service) unlockMail(user domain.User, token domain.LinkToken, until, now time.Time) (ports.OutgoingMail, error) {
	data := emails.AccountLocked{FirstName: user.FirstName, Until: noticeTime(until), Link: s.link("unlock", user.Email, token)}
	return s.composeMail(user, data, "unlock:"+user.ID, user.Unlock.ExpiresAt, now)
}

// accountDeletedMail tells the owner that the account is gone, so that a
// deletion they did not make does not go unnoticed.
func (s *Service) accountDeletedMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := emails.AccountDeleted{FirstName: user.FirstName, When: noticeTime(now)}
	return s.composeMail(user, data, "", time.Time{}, now)
}

// signupAttemptMail tells the owner of an account that someone tried to sign
// up with its address, which the signup answer hides when accounts are
// concealed. Its slot keeps a burst of attempts to one email.
func (s *Service) signupAttemptMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := emails.SignupAttempt{FirstName: user.FirstName, When: noticeTime(now)}
	return s.composeMail(user, data, "signup-attempt:"+user.ID, time.Time{}, now)
}

// passwordChangedMail tells the owner that the password changed, so that a
// change they did not make does not go unnoticed.
func (s *Service) passwordChangedMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	data := emails.PasswordChanged{FirstName: user.FirstName, When: noticeTime(now)}
	return s.composeMail(user, data, "", time.Time{}, now)
}

// noticeTime writes a time in a notice for people: "4 March 2026 at 05:06
// UTC".
func noticeTime(t time.Time) string { return t.UTC().Format("2 January 2006 at 15:04 UTC") }

// twoStepOnMail tells the owner that two-step login was turned on.
func (s *Service) twoStepOnMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	return s.composeMail(user, emails.TwoStepOn{FirstName: user.FirstName, When: noticeTime(now)}, "", time.Time{}, now)
}

// TwoStepOffMail tells the owner that two-step login was turned off; the
// operators' use cases send it too.
func (s *Service) TwoStepOffMail(user domain.User, now time.Time) (ports.OutgoingMail, error) {
	return s.composeMail(user, emails.TwoStepOff{FirstName: user.FirstName, When: noticeTime(now)}, "", time.Time{}, now)
}

// recoveryCodeUsedMail tells the owner that a recovery code logged in, so
// that a code that leaked does not go unnoticed.
func (s *Service) recoveryCodeUsedMail(user domain.User, left int, now time.Time) (ports.OutgoingMail, error) {
	data := emails.RecoveryCodeUsed{FirstName: user.FirstName, When: noticeTime(now), Left: left}
	return s.composeMail(user, data, "", time.Time{}, now)
}
