package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// Two-step login: an authenticator app's codes (TOTP) as a second factor,
// recovery codes for when the app is lost, the second step of a login, and
// the step-up that sensitive actions need.

// totpContext binds a sealed authenticator secret to its account: a sealed
// secret copied onto another account does not open there.
func totpContext(userID string) []byte { return []byte("authapi totp secret v1\x00" + userID) }

// codesOf opens a sealed secret of user's and returns the code of each time
// step under it.
func (s *Service) codesOf(sealed []byte, userID string) (func(step int64) (string, error), error) {
	secret, err := s.sealer.Open(sealed, totpContext(userID))
	if err != nil {
		return nil, fmt.Errorf("open the authenticator secret: %w", err)
	}
	return func(step int64) (string, error) { return s.authenticator.CodeAt(secret, step) }, nil
}

// StartTOTP starts enrolling an authenticator app: it makes a secret, keeps
// it sealed as the account's pending one (replacing any earlier), and
// returns what the app needs. Nothing changes at login until ConfirmTOTP.
func (s *Service) StartTOTP(ctx context.Context, userID string) (ports.TOTPEnrolment, error) {
	now := s.now()
	secret, err := domain.GenerateTOTPSecret(s.random)
	if err != nil {
		return ports.TOTPEnrolment{}, err
	}
	sealed, err := s.sealer.Seal(secret, totpContext(userID))
	if err != nil {
		return ports.TOTPEnrolment{}, fmt.Errorf("seal the authenticator secret: %w", err)
	}
	user, err := s.users.UpdateUser(ctx, ports.UserID(userID), func(u *domain.User) (ports.Effects, error) {
		return ports.Effects{}, u.StartTOTP(sealed, now)
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return ports.TOTPEnrolment{}, domain.ErrInvalidToken
	}
	if err != nil {
		return ports.TOTPEnrolment{}, err
	}
	return s.authenticator.Enrolment(s.cfg.TOTPIssuer, string(user.Email), secret)
}

// ConfirmTOTP turns two-step login on with a code of the pending secret,
// and returns the recovery codes, shown this once. The owner is emailed.
func (s *Service) ConfirmTOTP(ctx context.Context, claims domain.Claims, code string, client domain.Client) ([]string, error) {
	var v domain.Validation
	v.Require("code", code)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.VerifyPerSource, client.Source); err != nil {
		return nil, err
	}
	var recovery domain.RecoveryCodes
	_, err := s.users.UpdateUser(ctx, ports.UserID(claims.UserID), func(u *domain.User) (ports.Effects, error) {
		if len(u.MFA.PendingTOTPSecret) == 0 {
			if u.MFA.Enabled() {
				return ports.Effects{}, domain.ErrMFAAlreadyEnabled
			}
			return ports.Effects{}, domain.ErrNoPendingTOTP
		}
		codeAt, err := s.codesOf(u.MFA.PendingTOTPSecret, u.ID)
		if err != nil {
			return ports.Effects{}, err
		}
		step, err := domain.MatchTOTP(code, now, 0, codeAt)
		if err != nil {
			return ports.Effects{}, err
		}
		if recovery, err = domain.GenerateRecoveryCodes(s.cfg.CodeKey, u.ID, s.random); err != nil {
			return ports.Effects{}, err
		}
		if err := u.ConfirmTOTP(step, recovery.Hashes, now); err != nil {
			return ports.Effects{}, err
		}
		mail, err := s.twoStepOnMail(*u, now)
		return ports.Effects{
			Mail:   []ports.OutgoingMail{mail},
			Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventMFAEnabled, now, client).For(u.ID)},
		}, err
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return nil, domain.ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	s.mail.MailQueued()
	// The code just given is a second factor: the session may now do what
	// needs a recent one, such as making new recovery codes.
	s.markSecondFactor(ctx, claims.SessionID, now)
	return recovery.Codes, nil
}

// NewRecoveryCodes replaces the account's recovery codes, which needs a
// recent second factor, and returns the new ones, shown this once.
func (s *Service) NewRecoveryCodes(ctx context.Context, claims domain.Claims, code string, client domain.Client) ([]string, error) {
	user, err := s.currentUser(ctx, claims.UserID)
	if err != nil {
		return nil, err
	}
	if !user.MFA.Enabled() {
		return nil, domain.ErrMFANotEnabled
	}
	if err := s.stepUp(ctx, user, claims, code, client); err != nil {
		return nil, err
	}
	now := s.now()
	recovery, err := domain.GenerateRecoveryCodes(s.cfg.CodeKey, user.ID, s.random)
	if err != nil {
		return nil, err
	}
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		if err := u.ReplaceRecoveryCodes(recovery.Hashes, now); err != nil {
			return ports.Effects{}, err
		}
		return ports.Effects{Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventRecoveryCodesRenewed, now, client).For(u.ID)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return recovery.Codes, nil
}

// DisableTOTP turns two-step login off, with the password and a second
// factor (a current code or a recovery code), and emails the owner.
func (s *Service) DisableTOTP(ctx context.Context, claims domain.Claims, password, code, recoveryCode string, client domain.Client) error {
	var v domain.Validation
	v.Require("password", password)
	if code == "" && recoveryCode == "" {
		v.Add("code", "a current code or a recovery_code is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	user, err := s.confirmPassword(ctx, claims.UserID, password, client)
	if err != nil {
		return err
	}
	if !user.MFA.Enabled() {
		return domain.ErrMFANotEnabled
	}
	now := s.now()
	if _, err := s.checkSecondFactor(ctx, user, code, recoveryCode, client, now); err != nil {
		return err
	}
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		u.DisableMFA(now)
		mail, err := s.TwoStepOffMail(*u, now)
		return ports.Effects{
			Mail:   []ports.OutgoingMail{mail},
			Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventMFADisabled, now, client).For(u.ID)},
		}, err
	})
	if err != nil {
		return err
	}
	s.mail.MailQueued()
	return nil
}

// requireSecondFactor is the answer to a first factor (amr) of an account
// with two-step login on: a challenge for the second step, and its token.
// With offerPasskeys, for an account with passkeys, the answer carries the
// WebAuthn options that one of them answers instead of a code.
func (s *Service) requireSecondFactor(ctx context.Context, user domain.User, amr []string, offerPasskeys bool, now time.Time) error {
	id, err := domain.NewID(now, s.random)
	if err != nil {
		return err
	}
	challenge := domain.Challenge{
		ID: id, Purpose: domain.ChallengeLoginMFA, UserID: user.ID,
		CreatedAt: now, ExpiresAt: now.Add(domain.MFAChallengeTTL), AMR: amr,
	}
	methods := user.MFA.Methods()
	var (
		options  []byte
		passkeys []domain.Passkey
	)
	// Passkeys registered while the service had a relying party stay
	// unusable while it has none.
	if offerPasskeys && s.relyingParty != nil {
		if passkeys, err = s.passkeys.Passkeys(ctx, user.ID); err != nil {
			return fmt.Errorf("list passkeys: %w", err)
		}
	}
	if len(passkeys) > 0 {
		webauthnChallenge, err := newWebAuthnChallenge(s.random)
		if err != nil {
			return err
		}
		ceremony, err := s.relyingParty.LoginOptions(passkeys, webauthnChallenge)
		if err != nil {
			return err
		}
		challenge.Data, options = ceremony.State, ceremony.Options
		methods = append([]string{methods[0], domain.PasskeyMethod}, methods[1:]...)
	}
	if err := s.challenges.CreateChallenge(ctx, challenge); err != nil {
		return fmt.Errorf("start the second step: %w", err)
	}
	token, _, err := s.issue(ports.TokenSpec{Kind: domain.MFAToken, UserID: user.ID, ID: id}, now)
	if err != nil {
		return err
	}
	e := domain.MFARequired(token.Token, methods)
	e.PasskeyOptions = options
	return e
}

// LoginMFA finishes a login whose password was right with its second
// factor: a code of the authenticator app or a recovery code. Wrong codes
// count toward the account's slow-down and lockout like wrong passwords,
// and 5 of them end the mfa_token.
func (s *Service) LoginMFA(ctx context.Context, mfaToken, code, recoveryCode string, client domain.Client) (ports.TokenPair, error) {
	var v domain.Validation
	v.Require("mfa_token", mfaToken)
	switch {
	case code == "" && recoveryCode == "":
		v.Add("code", "a code, a recovery_code or a passkey credential is required")
	case code != "" && recoveryCode != "":
		v.Add("code", "send a code or a recovery_code, not both")
	}
	if err := v.Err(); err != nil {
		return ports.TokenPair{}, err
	}
	now := s.now()
	failed := domain.NewAuditEvent(domain.EventLoginFailed, now, client)
	pair, err := s.finishSecondStep(ctx, mfaToken, client, now, &failed, func(user domain.User, _ domain.Challenge) ([]string, error) {
		method, err := s.checkSecondFactor(ctx, user, code, recoveryCode, client, now)
		switch {
		case errors.Is(err, domain.ErrAccountLocked):
			failed.Reason = domain.ReasonLocked
		case errors.Is(err, domain.ErrTooManyRequests):
			failed.Reason = domain.ReasonLimited
		}
		return []string{method}, err
	})
	switch {
	case err == nil:
		s.observe.LoginOutcome(LoginSucceeded)
	case failed.Reason != "":
		s.observe.LoginOutcome(failed.Reason)
		s.record(ctx, failed)
	}
	return pair, err
}

// finishSecondStep finishes the second step of a login named by mfaToken
// with answer, which checks the second factor and returns its AMR values.
// A wrong factor counts against the step, which 5 of them end; a right one
// spends it and starts the session. When it fails for a reason the audit
// log keeps, it sets failed's reason and account.
func (s *Service) finishSecondStep(ctx context.Context, mfaToken string, client domain.Client, now time.Time, failed *domain.AuditEvent, answer func(domain.User, domain.Challenge) ([]string, error)) (ports.TokenPair, error) {
	claims, err := s.tokens.Verify(mfaToken, domain.MFAToken, now)
	if err != nil {
		return ports.TokenPair{}, domain.ErrInvalidToken
	}
	open := func(c *domain.Challenge) error {
		if !c.Open(domain.ChallengeLoginMFA, now) || c.UserID != claims.UserID {
			return domain.ErrInvalidToken
		}
		return nil
	}
	challenge, err := s.challenges.UpdateChallenge(ctx, claims.ID, open)
	if errors.Is(err, domain.ErrChallengeNotFound) || errors.Is(err, domain.ErrInvalidToken) {
		return ports.TokenPair{}, domain.ErrInvalidToken
	}
	if err != nil {
		return ports.TokenPair{}, fmt.Errorf("read the second step: %w", err)
	}
	user, err := s.users.UserByID(ctx, claims.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return ports.TokenPair{}, domain.ErrInvalidToken
	}
	if err != nil {
		return ports.TokenPair{}, fmt.Errorf("look up user: %w", err)
	}
	*failed = failed.For(user.ID)
	amr, err := answer(user, challenge)
	if errors.Is(err, domain.ErrInvalidMFACode) || errors.Is(err, domain.ErrInvalidPasskey) {
		failed.Reason = domain.ReasonWrongMFACode
		if errors.Is(err, domain.ErrInvalidPasskey) {
			failed.Reason = domain.ReasonWrongPasskey
		}
		if _, cerr := s.challenges.UpdateChallenge(ctx, challenge.ID, func(c *domain.Challenge) error { c.Fail(); return nil }); cerr != nil {
			s.log.ErrorContext(ctx, "could not count a wrong second factor", "error", cerr)
		}
		return ports.TokenPair{}, err
	}
	if err != nil {
		return ports.TokenPair{}, err
	}
	// The challenge is spent once, even by two right answers at once.
	_, err = s.challenges.UpdateChallenge(ctx, challenge.ID, func(c *domain.Challenge) error {
		if err := open(c); err != nil {
			return err
		}
		c.Use(now)
		return nil
	})
	if err != nil {
		return ports.TokenPair{}, domain.ErrInvalidToken
	}
	if err := user.CheckCanLogin(); err != nil {
		// Disabled, or no longer active, since the first step.
		failed.Reason = domain.ReasonNotActive
		if errors.Is(err, domain.ErrAccountDisabled) {
			failed.Reason = domain.ReasonDisabled
		}
		return ports.TokenPair{}, err
	}
	login := domain.NewAuditEvent(domain.EventLogin, now, client).For(user.ID)
	return s.startSession(ctx, user.ID, client, sessionProof{amr: append(challenge.AMR, amr...), secondFactorAt: now}, login)
}

// checkSecondFactor checks an authenticator code or a recovery code of
// user's, as a login checks a password: admitted by the login limits first,
// counted as a failure if wrong. It returns the AMR value of the factor.
func (s *Service) checkSecondFactor(ctx context.Context, user domain.User, code, recoveryCode string, client domain.Client, now time.Time) (string, error) {
	attempt, err := s.admitLogin(ctx, user.Email, client, now)
	if err != nil {
		return "", err
	}
	method := domain.AMROTP
	var update func(u *domain.User) (ports.Effects, error)
	if recoveryCode != "" {
		method = domain.AMRMFA
		update = func(u *domain.User) (ports.Effects, error) {
			left, err := u.UseRecoveryCode(s.cfg.CodeKey, recoveryCode, now)
			if err != nil {
				return ports.Effects{}, err
			}
			mail, err := s.recoveryCodeUsedMail(*u, left, now)
			return ports.Effects{
				Mail:   []ports.OutgoingMail{mail},
				Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventRecoveryCodeUsed, now, client).For(u.ID)},
			}, err
		}
	} else {
		update = func(u *domain.User) (ports.Effects, error) {
			if !u.MFA.Enabled() {
				return ports.Effects{}, domain.ErrInvalidMFACode
			}
			codeAt, err := s.codesOf(u.MFA.TOTPSecret, u.ID)
			if err != nil {
				return ports.Effects{}, err
			}
			step, err := domain.MatchTOTP(code, now, u.MFA.LastTOTPStep, codeAt)
			if err != nil {
				return ports.Effects{}, err
			}
			u.AcceptTOTPStep(step, now)
			return ports.Effects{}, nil
		}
	}
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), update)
	if errors.Is(err, domain.ErrInvalidMFACode) {
		if attempt.Locks {
			s.sendUnlockLink(ctx, user, attempt.LockedUntil, client)
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	if method == domain.AMRMFA {
		s.mail.MailQueued()
	}
	if err := s.throttle.Succeeded(ctx, attempt); err != nil {
		s.log.WarnContext(ctx, "could not clear failed logins", "user_id", user.ID, "error", err)
	}
	return method, nil
}

// stepUp lets an action that needs a recent second factor go ahead: the
// account has none, the session's user gave one in the last StepUpWindow,
// or code is a current authenticator code (which then counts for the
// session too). Otherwise it answers domain.ErrMFAStepUpRequired.
func (s *Service) stepUp(ctx context.Context, user domain.User, claims domain.Claims, code string, client domain.Client) error {
	if !user.MFA.Enabled() {
		return nil
	}
	now := s.now()
	if code == "" {
		sess, err := s.sessions.Session(ctx, claims.SessionID)
		if err == nil && sess.UserID == user.ID && sess.HasRecentSecondFactor(now) {
			return nil
		}
		return domain.ErrMFAStepUpRequired
	}
	if _, err := s.checkSecondFactor(ctx, user, code, "", client, now); err != nil {
		if errors.Is(err, domain.ErrInvalidMFACode) {
			s.record(ctx, domain.NewAuditEvent(domain.EventLoginFailed, now, client).For(user.ID).Because(domain.ReasonWrongMFACode))
		}
		return err
	}
	s.markSecondFactor(ctx, claims.SessionID, now)
	return nil
}

// markSecondFactor records that the session's user gave a second factor at
// now. Failing to changes nothing but a later step-up, so it is logged.
func (s *Service) markSecondFactor(ctx context.Context, sessionID string, now time.Time) {
	_, err := s.sessions.UpdateSession(ctx, sessionID, func(sess *domain.Session) ([]domain.AuditEvent, error) {
		sess.SecondFactorAt = now
		return nil, nil
	})
	if err != nil && !errors.Is(err, domain.ErrSessionNotFound) {
		s.log.WarnContext(ctx, "could not record a second factor on the session", "session_id", sessionID, "error", err)
	}
}

// currentUser is the account of a token, or domain.ErrInvalidToken.
func (s *Service) currentUser(ctx context.Context, userID string) (domain.User, error) {
	user, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, domain.ErrInvalidToken
	}
	return user, err
}
