package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// ForgotPassword starts a password reset. It answers the same, in the same
// time, whether or not the email has an account, so that it cannot be used
// to find out who has one (ASVS 5.0 6.3.8): an active account is emailed a
// reset code, an inactive one its activation code again, and an unknown
// address nothing. Both codes draw on the one budget of codes per email.
func (s *Service) ForgotPassword(ctx context.Context, email string, client domain.Client) error {
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.ForgotPerSource, client.Source); err != nil {
		return err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return err
	}
	if err := s.take(ctx, now, s.cfg.Limits.CodesPerEmail, string(normalized)); err != nil {
		return err
	}
	// Every answer waits until the same moment, so the work done for an
	// account (a write, an email) does not show in the response time.
	defer s.waitUntil(ctx, now.Add(s.cfg.ForgotPasswordMinDuration))

	secrets, err := domain.GenerateCodeSecrets(s.random)
	if err != nil {
		return err
	}
	_, err = s.users.UpdateUser(ctx, ports.UserEmail(normalized), func(u *domain.User) (ports.Effects, error) {
		var mail ports.OutgoingMail
		var err error
		if !u.Active {
			if err := u.IssueActivationCode(s.cfg.CodeKey, secrets, now, s.cfg.ActivationCodeTTL); err != nil {
				return ports.Effects{}, err
			}
			mail, err = s.activationMail(*u, secrets, now)
		} else {
			if err := u.IssuePasswordResetCode(s.cfg.CodeKey, secrets, now, s.cfg.PasswordResetTTL); err != nil {
				return ports.Effects{}, err
			}
			mail, err = s.passwordResetMail(*u, secrets, now)
		}
		return ports.Effects{
			Mail:   []ports.OutgoingMail{mail},
			Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasswordResetRequested, now, client).For(u.ID)},
		}, err
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

// ResetPassword sets a new password with an emailed reset code or link,
// ends every session of the account (ASVS 5.0 7.4.3), lifts a login lock and
// emails a notice of the change, all in one transaction. Wrong, expired and
// exhausted codes, and unknown emails, all fail with
// domain.ErrInvalidResetCode.
func (s *Service) ResetPassword(ctx context.Context, email string, proof domain.Proof, newPassword string, client domain.Client) error {
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.ResetPerSource, client.Source); err != nil {
		return err
	}
	normalized, err := domain.LookupEmail(email)
	if err != nil {
		return err
	}
	var v domain.Validation
	if proof.IsLink() {
		v.Require("token", proof.Secret())
	} else {
		v.Require("code", proof.Secret())
	}
	v.Require("new_password", newPassword)
	if err := v.Err(); err != nil {
		return err
	}
	// What can be judged of the password without the account is judged
	// first; what needs the account (its owner's names) only once the code
	// is known to be right, so that neither answer tells a stranger that
	// the address has an account.
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
	if probe := user; probe.CheckPasswordReset(s.cfg.CodeKey, proof, now) != nil {
		return s.countResetFailure(ctx, user.ID, proof, now)
	}
	if err := s.checkNewPassword(user, newPassword); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	var codeErr error
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		if err := u.ResetPassword(s.cfg.CodeKey, proof, hash, now); err != nil {
			codeErr = err // saved all the same: the attempt counts
			return ports.Effects{}, nil
		}
		mail, err := s.passwordChangedMail(*u, now)
		return ports.Effects{
			Mail:        []ports.OutgoingMail{mail},
			EndSessions: &ports.EndSessions{At: now},
			// Whoever locked the account out by guessing is no reason to
			// keep its owner out now that the owner has proved control of
			// the mailbox.
			LiftLoginLock: true,
			Events:        []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasswordReset, now, client).For(u.ID)},
		}, err
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
	return nil
}

// countResetFailure saves the attempt that a wrong reset code counts, and
// answers domain.ErrInvalidResetCode.
func (s *Service) countResetFailure(ctx context.Context, userID string, proof domain.Proof, now time.Time) error {
	_, err := s.users.UpdateUser(ctx, ports.UserID(userID), func(u *domain.User) (ports.Effects, error) {
		_ = u.CheckPasswordReset(s.cfg.CodeKey, proof, now) // counts the attempt; the answer is the same either way
		return ports.Effects{}, nil
	})
	if err != nil && !errors.Is(err, domain.ErrUserNotFound) {
		return fmt.Errorf("count a wrong reset code: %w", err)
	}
	return domain.ErrInvalidResetCode
}

// ChangePassword replaces the password of a logged-in user who knows the
// current one. Every other session ends with it, the caller's own too if
// endCurrent is set, and the owner is emailed a notice, in one transaction.
// A wrong current password counts as a failed login.
func (s *Service) ChangePassword(ctx context.Context, claims domain.Claims, current, newPassword string, endCurrent bool, code string, client domain.Client) error {
	var v domain.Validation
	v.Require("current_password", current)
	v.Require("new_password", newPassword)
	if err := v.Err(); err != nil {
		return err
	}
	user, attempt, err := s.confirmPasswordAttempt(ctx, claims.UserID, current, client)
	if err != nil {
		return err
	}
	if err := s.checkNewPassword(user, newPassword); err != nil {
		return err
	}
	if err := s.stepUp(ctx, user, claims, code, client); err != nil {
		return err
	}
	s.secondFactorConfirmed(ctx, user, attempt)
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	keep := claims.SessionID
	if endCurrent {
		keep = ""
	}
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		u.SetPasswordHash(hash, now)
		mail, err := s.passwordChangedMail(*u, now)
		return ports.Effects{
			Mail:        []ports.OutgoingMail{mail},
			EndSessions: &ports.EndSessions{At: now, Except: keep},
			Events:      []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasswordChanged, now, client).For(u.ID)},
		}, err
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.mail.MailQueued()
	return nil
}

// DeleteAccount deletes the account of a logged-in user who confirms it with
// the password (and, with two-step login on, a recent second factor), and
// its sessions with it, and emails the owner a notice; the email can sign up
// again.
func (s *Service) DeleteAccount(ctx context.Context, claims domain.Claims, password, code string, client domain.Client) error {
	var v domain.Validation
	v.Require("password", password)
	if err := v.Err(); err != nil {
		return err
	}
	user, attempt, err := s.confirmPasswordAttempt(ctx, claims.UserID, password, client)
	if err != nil {
		return err
	}
	if err := s.stepUp(ctx, user, claims, code, client); err != nil {
		return err
	}
	s.secondFactorConfirmed(ctx, user, attempt)
	now := s.now()
	mail, err := s.accountDeletedMail(user, now)
	if err != nil {
		return err
	}
	deleted := domain.NewAuditEvent(domain.EventAccountDeleted, now, client).For(user.ID)
	if err := s.users.DeleteUser(ctx, user.ID, ports.Effects{Mail: []ports.OutgoingMail{mail}, Events: []domain.AuditEvent{deleted}}); err != nil {
		if errors.Is(err, domain.ErrUserNotFound) {
			return domain.ErrInvalidToken
		}
		return fmt.Errorf("delete account: %w", err)
	}
	s.mail.MailQueued()
	s.log.InfoContext(ctx, "account deleted", "user_id", user.ID)
	return nil
}

// confirmPassword checks the password of a logged-in user under the same
// limits as a login: a wrong password answers domain.ErrInvalidCredentials
// and counts as a failed login.
func (s *Service) confirmPassword(ctx context.Context, userID, password string, client domain.Client) (domain.User, error) {
	user, _, err := s.confirmPasswordAttempt(ctx, userID, password, client)
	return user, err
}

// confirmPasswordAttempt is confirmPassword, and returns the attempt that
// the login limits admitted, which an account with a second factor ends
// once the second factor is confirmed too.
func (s *Service) confirmPasswordAttempt(ctx context.Context, userID, password string, client domain.Client) (domain.User, ports.LoginAttempt, error) {
	user, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, ports.LoginAttempt{}, domain.ErrInvalidToken
	}
	if err != nil {
		return domain.User{}, ports.LoginAttempt{}, fmt.Errorf("look up user: %w", err)
	}
	now := s.now()
	failed := domain.NewAuditEvent(domain.EventLoginFailed, now, client).For(user.ID)
	attempt, err := s.admitLogin(ctx, user.Email, client, now)
	switch {
	case errors.Is(err, domain.ErrAccountLocked):
		s.record(ctx, failed.Because(domain.ReasonLocked))
		return domain.User{}, ports.LoginAttempt{}, err
	case errors.Is(err, domain.ErrTooManyRequests):
		s.record(ctx, failed.Because(domain.ReasonLimited))
		return domain.User{}, ports.LoginAttempt{}, err
	case err != nil:
		return domain.User{}, ports.LoginAttempt{}, err
	}
	if err := s.checkPassword(ctx, user, password, attempt, client); err != nil {
		if errors.Is(err, domain.ErrInvalidCredentials) {
			s.record(ctx, failed.Because(domain.ReasonWrongPassword))
		}
		return domain.User{}, ports.LoginAttempt{}, err
	}
	return user, attempt, nil
}

// secondFactorConfirmed ends the runs of failed logins that the password's
// attempt counted toward, for an account with a second factor once its
// step-up has passed: checkPassword leaves them to the second factor, which
// a session's recent one confirms without a check that would end them.
func (s *Service) secondFactorConfirmed(ctx context.Context, user domain.User, attempt ports.LoginAttempt) {
	if !user.MFA.Enabled() {
		return
	}
	if err := s.throttle.Succeeded(ctx, attempt); err != nil {
		s.log.WarnContext(ctx, "could not clear failed logins", "user_id", user.ID, "error", err)
	}
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
