package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// ForgotPassword starts a password reset. It answers the same, in the same
// time, whether or not the email has an account, so that it cannot be used
// to find out who has one (ASVS 5.0 6.3.8): an active account is emailed a
// reset code, an inactive one its activation code again, and an unknown
// address nothing.
func (s *Service) ForgotPassword(ctx context.Context, email string, client domain.Client) error {
	var v domain.Validation
	v.Require("email", email)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now()
	normalized := domain.NormalizeEmail(email)
	if err := s.take(ctx, now, "forgot-ip:"+client.IP, s.cfg.Limits.ForgotPerIP); err != nil {
		return err
	}
	if err := s.take(ctx, now, "forgot-email:"+string(normalized), s.cfg.Limits.ForgotPerEmail...); err != nil {
		return err
	}
	// Every answer waits until the same moment, so the work done for an
	// account (a write, an email) does not show in the response time.
	defer s.waitUntil(ctx, now.Add(s.cfg.ForgotPasswordMinDuration))

	code, err := domain.GenerateSecretCode(s.random)
	if err != nil {
		return err
	}
	_, err = s.users.UpdateUser(ctx, normalized, func(u *domain.User) ([]ports.OutgoingMail, error) {
		if !u.Active {
			if err := u.IssueActivationCode(code, now, s.cfg.ActivationCodeTTL); err != nil {
				return nil, err
			}
			mail, err := s.activationMail(*u, code, now)
			return []ports.OutgoingMail{mail}, err
		}
		if err := u.IssuePasswordResetCode(code, now, s.cfg.PasswordResetTTL); err != nil {
			return nil, err
		}
		mail, err := s.passwordResetMail(*u, code, now)
		return []ports.OutgoingMail{mail}, err
	})
	switch {
	case errors.Is(err, domain.ErrUserNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("start password reset: %w", err)
	}
	s.mail.MailQueued()
	return nil
}

// ResetPassword sets a new password with an emailed reset code, ends every
// session of the account (ASVS 5.0 7.4.3), lifts a login lock and emails a
// notice of the change. Wrong, expired and exhausted codes, and unknown
// emails, all fail with domain.ErrInvalidResetCode.
func (s *Service) ResetPassword(ctx context.Context, email, code, newPassword string, client domain.Client) error {
	var v domain.Validation
	v.Require("email", email)
	v.Require("code", code)
	v.Require("new_password", newPassword)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now()
	if err := s.take(ctx, now, "reset-ip:"+client.IP, s.cfg.Limits.ResetPerIP); err != nil {
		return err
	}
	normalized := domain.NormalizeEmail(email)
	code = strings.TrimSpace(code)
	// The password is judged before the account is looked up and before the
	// code is checked, so that neither shows through the answer.
	if err := s.checkNewPassword(domain.User{Email: normalized}, newPassword); err != nil {
		return err
	}
	user, err := s.users.UserByEmail(ctx, normalized)
	if errors.Is(err, domain.ErrUserNotFound) {
		if err := s.burnHashingWork(ctx, newPassword); err != nil {
			return err
		}
		return domain.ErrInvalidResetCode
	}
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	// With the account known, a password built from its owner's names is
	// refused too; only someone who already knows the names learns from it.
	if err := s.checkNewPassword(user, newPassword); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	var codeErr error
	user, err = s.users.UpdateUser(ctx, normalized, func(u *domain.User) ([]ports.OutgoingMail, error) {
		if err := u.ResetPassword(code, hash, now); err != nil {
			codeErr = err // saved all the same: the attempt counts
			return nil, nil
		}
		mail, err := s.passwordChangedMail(*u, now)
		return []ports.OutgoingMail{mail}, err
	})
	switch {
	case errors.Is(err, domain.ErrUserNotFound):
		return domain.ErrInvalidResetCode
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	case codeErr != nil:
		return codeErr
	}
	s.mail.MailQueued()
	if _, err := s.sessions.RevokeSessions(ctx, user.ID, now, ""); err != nil {
		return fmt.Errorf("end sessions after a password reset: %w", err)
	}
	// Whoever locked the account out by guessing is no reason to keep its
	// owner out now that the owner has proved control of the mailbox.
	s.resetAccountFailures(ctx, normalized)
	return nil
}

// ChangePassword replaces the password of a logged-in user who knows the
// current one. Every other session ends; the caller's own ends too if
// endCurrent is set. A wrong current password counts as a failed login.
func (s *Service) ChangePassword(ctx context.Context, claims domain.Claims, current, newPassword string, endCurrent bool, client domain.Client) error {
	var v domain.Validation
	v.Require("current_password", current)
	v.Require("new_password", newPassword)
	if err := v.Err(); err != nil {
		return err
	}
	user, err := s.confirmPassword(ctx, claims.UserID, current, client)
	if err != nil {
		return err
	}
	if err := s.checkNewPassword(user, newPassword); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	_, err = s.users.UpdateUser(ctx, user.Email, func(u *domain.User) ([]ports.OutgoingMail, error) {
		u.SetPasswordHash(hash, now)
		mail, err := s.passwordChangedMail(*u, now)
		return []ports.OutgoingMail{mail}, err
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.mail.MailQueued()
	keep := claims.SessionID
	if endCurrent {
		keep = ""
	}
	if _, err := s.sessions.RevokeSessions(ctx, user.ID, now, keep); err != nil {
		return fmt.Errorf("end sessions after a password change: %w", err)
	}
	return nil
}

// DeleteAccount deletes the account of a logged-in user who confirms it with
// the password, and its sessions with it; the email can sign up again.
func (s *Service) DeleteAccount(ctx context.Context, userID, password string, client domain.Client) error {
	var v domain.Validation
	v.Require("password", password)
	if err := v.Err(); err != nil {
		return err
	}
	user, err := s.confirmPassword(ctx, userID, password, client)
	if err != nil {
		return err
	}
	if err := s.users.DeleteUser(ctx, user.ID); err != nil {
		if errors.Is(err, domain.ErrUserNotFound) {
			return domain.ErrInvalidToken
		}
		return fmt.Errorf("delete account: %w", err)
	}
	s.log.InfoContext(ctx, "account deleted", "user_id", user.ID)
	return nil
}

// confirmPassword checks the password of a logged-in user under the same
// limits as a login: a wrong password answers domain.ErrInvalidCredentials
// and counts as a failed login.
func (s *Service) confirmPassword(ctx context.Context, userID, password string, client domain.Client) (domain.User, error) {
	user, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, domain.ErrInvalidToken
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("look up user: %w", err)
	}
	now := s.now()
	if err := s.checkLoginAllowed(ctx, user.Email, client, now); err != nil {
		return domain.User{}, err
	}
	if err := s.checkPassword(ctx, user, password, client, now); err != nil {
		return domain.User{}, err
	}
	return user, nil
}

// checkNewPassword applies the password rules and policy to a new password
// of user, reporting problems under "new_password".
func (s *Service) checkNewPassword(user domain.User, password string) error {
	if err := domain.CheckNewPassword("new_password", password, user.Email); err != nil {
		return err
	}
	reg := domain.Registration{Email: user.Email, FirstName: user.FirstName, LastName: user.LastName}
	if err := s.passwords.Check(password, passwordContext(reg)); err != nil {
		return renameField(err, "password", "new_password")
	}
	return nil
}

// renameField moves a validation problem reported for one field to another.
func renameField(err error, from, to string) error {
	var e *domain.Error
	if !errors.As(err, &e) {
		return err
	}
	renamed := *e
	renamed.Fields = make([]domain.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == from {
			f.Field = to
		}
		renamed.Fields[i] = f
	}
	return &renamed
}

// waitUntil blocks until the clock reaches deadline or ctx ends.
func (s *Service) waitUntil(ctx context.Context, deadline time.Time) {
	if d := deadline.Sub(s.now()); d > 0 {
		s.sleep(ctx, d)
	}
}

// sleepFor is the production sleeper.
func sleepFor(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
