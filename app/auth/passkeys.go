package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"authapi/app/emails"
	"authapi/domain"
	"authapi/ports"
)

// Passkeys (WebAuthn): registering them, logging in with one alone, and
// answering the second step of a login with one. Each ceremony spans two
// requests; its state lives in the challenge store, keyed by the WebAuthn
// challenge itself, so that any replica can finish what another started
// and no challenge is answered twice.

// challengeBytes is the size of a WebAuthn challenge: W3C asks for at least
// 16 random bytes.
const challengeBytes = 32

// newWebAuthnChallenge draws a challenge from r.
func newWebAuthnChallenge(r io.Reader) ([]byte, error) {
	c := make([]byte, challengeBytes)
	if _, err := io.ReadFull(r, c); err != nil {
		return nil, fmt.Errorf("generate a passkey challenge: %w", err)
	}
	return c, nil
}

// wellFormedChallenge reports whether a challenge read from a response
// can be one the service made, before it is looked up.
func wellFormedChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == challengeBytes
}

// credentialRequired is what a request without the browser's answer lacks.
const credentialRequired = "is required: the PublicKeyCredential the browser returned, as JSON"

// holderOf is the account as its authenticators know it: by id, which is
// no personal data, with its email and name for the user to recognise.
func holderOf(u domain.User) ports.PasskeyHolder {
	display := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if display == "" {
		display = string(u.Email)
	}
	return ports.PasskeyHolder{Handle: []byte(u.ID), Name: string(u.Email), DisplayName: display}
}

// PasskeyRegistrationOptions starts registering a passkey for the token's
// user, which needs a recent second factor if the account has one.
func (s *Service) PasskeyRegistrationOptions(ctx context.Context, claims domain.Claims, code string, client domain.Client) (json.RawMessage, error) {
	if s.relyingParty == nil {
		return nil, domain.ErrPasskeysOff
	}
	now := s.now()
	if err := s.take(ctx, now, s.cfg.Limits.LoginPerSource, client.Source); err != nil {
		return nil, err
	}
	user, err := s.currentUser(ctx, claims.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.stepUp(ctx, user, claims, code, client); err != nil {
		return nil, err
	}
	existing, err := s.passkeys.Passkeys(ctx, user.ID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	if len(existing) >= domain.MaxPasskeys {
		return nil, domain.ErrTooManyPasskeys
	}
	return s.startCeremony(ctx, domain.ChallengePasskeyRegister, user.ID, now, func(challenge []byte) (ports.Ceremony, error) {
		return s.relyingParty.RegistrationOptions(holderOf(user), existing, challenge)
	})
}

// startCeremony makes a challenge, has begin make the ceremony's options
// with it, and keeps the ceremony's state for its second request.
func (s *Service) startCeremony(ctx context.Context, purpose domain.ChallengePurpose, userID string, now time.Time, begin func(challenge []byte) (ports.Ceremony, error)) (json.RawMessage, error) {
	challenge, err := newWebAuthnChallenge(s.random)
	if err != nil {
		return nil, err
	}
	ceremony, err := begin(challenge)
	if err != nil {
		return nil, err
	}
	err = s.challenges.CreateChallenge(ctx, domain.Challenge{
		ID: ceremony.Challenge, Purpose: purpose, UserID: userID, Data: ceremony.State,
		CreatedAt: now, ExpiresAt: now.Add(domain.PasskeyChallengeTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("keep the passkey ceremony: %w", err)
	}
	return ceremony.Options, nil
}

// spendCeremony finishes the ceremony of challenge, for purpose and (if
// set) userID, and returns its state. A challenge is spent by its first
// answer, right or wrong: a ceremony that failed starts again.
func (s *Service) spendCeremony(ctx context.Context, challenge string, purpose domain.ChallengePurpose, userID string, now time.Time) ([]byte, error) {
	if !wellFormedChallenge(challenge) {
		return nil, domain.ErrInvalidPasskey
	}
	c, err := s.challenges.UpdateChallenge(ctx, challenge, func(c *domain.Challenge) error {
		if !c.Open(purpose, now) || (userID != "" && c.UserID != userID) {
			return domain.ErrInvalidPasskey
		}
		c.Use(now)
		return nil
	})
	switch {
	case errors.Is(err, domain.ErrChallengeNotFound) || errors.Is(err, domain.ErrInvalidPasskey):
		return nil, domain.ErrInvalidPasskey
	case err != nil:
		return nil, fmt.Errorf("finish the passkey ceremony: %w", err)
	}
	return c.Data, nil
}

// AddPasskey finishes a registration with the browser's answer and keeps
// the passkey under name; the owner is emailed.
func (s *Service) AddPasskey(ctx context.Context, claims domain.Claims, credential []byte, name string, client domain.Client) (domain.Passkey, error) {
	if s.relyingParty == nil {
		return domain.Passkey{}, domain.ErrPasskeysOff
	}
	name, err := domain.PasskeyName(name)
	if err != nil {
		return domain.Passkey{}, err
	}
	if len(credential) == 0 {
		return domain.Passkey{}, domain.ValidationError("credential", credentialRequired)
	}
	now := s.now()
	user, err := s.currentUser(ctx, claims.UserID)
	if err != nil {
		return domain.Passkey{}, err
	}
	challenge, err := s.relyingParty.RegistrationChallenge(credential)
	if err != nil {
		return domain.Passkey{}, s.refusedPasskey(ctx, err)
	}
	state, err := s.spendCeremony(ctx, challenge, domain.ChallengePasskeyRegister, user.ID, now)
	if err != nil {
		return domain.Passkey{}, err
	}
	p, err := s.relyingParty.VerifyRegistration(state, holderOf(user), credential)
	if err != nil {
		return domain.Passkey{}, s.refusedPasskey(ctx, err)
	}
	if p.ID, err = domain.NewID(now, s.random); err != nil {
		return domain.Passkey{}, err
	}
	p.UserID, p.Name, p.CreatedAt = user.ID, name, now
	mail, err := s.composeMail(user, emails.PasskeyAdded{FirstName: user.FirstName, Name: name, When: noticeTime(now)}, "", time.Time{}, now)
	if err != nil {
		return domain.Passkey{}, err
	}
	err = s.passkeys.AddPasskey(ctx, p, ports.Effects{
		Mail:   []ports.OutgoingMail{mail},
		Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasskeyAdded, now, client).For(user.ID).Because(p.ID)},
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.Passkey{}, domain.ErrInvalidToken
	}
	if err != nil {
		return domain.Passkey{}, err
	}
	s.mail.MailQueued()
	return p, nil
}

// refusedPasskey logs why a passkey response was refused, which helps the
// developer of a front end, and answers domain.ErrInvalidPasskey alone.
func (s *Service) refusedPasskey(ctx context.Context, err error) error {
	if !errors.Is(err, domain.ErrInvalidPasskey) {
		return err
	}
	s.log.InfoContext(ctx, "passkey response refused", "reason", err.Error())
	return domain.ErrInvalidPasskey
}

// Passkeys lists the user's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error) {
	list, err := s.passkeys.Passkeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return list, nil
}

// RenamePasskey gives one of the user's passkeys a new name.
func (s *Service) RenamePasskey(ctx context.Context, claims domain.Claims, id, name string, client domain.Client) (domain.Passkey, error) {
	// A new name is asked for: none would not be a rename.
	if strings.TrimSpace(name) == "" {
		return domain.Passkey{}, domain.ValidationError("name", "is required")
	}
	name, err := domain.PasskeyName(name)
	if err != nil {
		return domain.Passkey{}, err
	}
	now := s.now()
	return s.passkeys.UpdatePasskey(ctx, claims.UserID, id, func(p *domain.Passkey) (ports.Effects, error) {
		p.Name = name
		return ports.Effects{Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasskeyRenamed, now, client).For(claims.UserID).Because(p.ID)}}, nil
	})
}

// RemovePasskey deletes one of the user's passkeys; the owner is emailed.
func (s *Service) RemovePasskey(ctx context.Context, claims domain.Claims, id string, client domain.Client) error {
	user, err := s.currentUser(ctx, claims.UserID)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.passkeys.DeletePasskey(ctx, user.ID, id, func(p domain.Passkey) (ports.Effects, error) {
		mail, err := s.composeMail(user, emails.PasskeyRemoved{FirstName: user.FirstName, Name: p.Name, When: noticeTime(now)}, "", time.Time{}, now)
		return ports.Effects{
			Mail:   []ports.OutgoingMail{mail},
			Events: []domain.AuditEvent{domain.NewAuditEvent(domain.EventPasskeyRemoved, now, client).For(user.ID).Because(p.ID)},
		}, err
	})
	if err != nil {
		return err
	}
	s.mail.MailQueued()
	return nil
}

// PasskeyLoginOptions starts a login with a passkey alone: any passkey the
// user's authenticator holds for this service, so no email is asked for.
func (s *Service) PasskeyLoginOptions(ctx context.Context, client domain.Client) (json.RawMessage, error) {
	if s.relyingParty == nil {
		return nil, domain.ErrPasskeysOff
	}
	now := s.now()
	// Each start stores a challenge: the limit bounds what one client can
	// make the database keep.
	if err := s.take(ctx, now, s.cfg.Limits.LoginPerSource, client.Source); err != nil {
		return nil, err
	}
	return s.startCeremony(ctx, domain.ChallengePasskeyLogin, "", now, func(challenge []byte) (ports.Ceremony, error) {
		return s.relyingParty.LoginOptions(nil, challenge)
	})
}

// LoginWithPasskey finishes a login with a passkey alone. A passkey that
// verified its user is two factors; one that did not is one, so an account
// with two-step login on then answers domain.ErrMFARequired.
func (s *Service) LoginWithPasskey(ctx context.Context, credential []byte, client domain.Client) (ports.TokenPair, error) {
	if s.relyingParty == nil {
		return ports.TokenPair{}, domain.ErrPasskeysOff
	}
	if len(credential) == 0 {
		return ports.TokenPair{}, domain.ValidationError("credential", credentialRequired)
	}
	now := s.now()
	failed := domain.NewAuditEvent(domain.EventLoginFailed, now, client)
	pair, err := s.loginWithPasskey(ctx, credential, client, now, &failed)
	switch {
	case err == nil:
		s.observe.LoginOutcome(LoginSucceeded)
	case errors.Is(err, domain.ErrMFARequired):
		s.observe.LoginOutcome(LoginNeedsSecondFactor)
	case failed.Reason != "":
		s.observe.LoginOutcome(failed.Reason)
		if failed.UserID != "" {
			s.record(ctx, failed)
		}
	}
	return pair, err
}

func (s *Service) loginWithPasskey(ctx context.Context, credential []byte, client domain.Client, now time.Time, failed *domain.AuditEvent) (ports.TokenPair, error) {
	if err := s.take(ctx, now, s.cfg.Limits.LoginPerSource, client.Source); err != nil {
		failed.Reason = domain.ReasonLimited
		return ports.TokenPair{}, err
	}
	failed.Reason = domain.ReasonWrongPasskey
	assertion, err := s.relyingParty.ReadAssertion(credential)
	if err != nil {
		return ports.TokenPair{}, s.refusedPasskey(ctx, err)
	}
	state, err := s.spendCeremony(ctx, assertion.Challenge, domain.ChallengePasskeyLogin, "", now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	passkey, err := s.passkeys.PasskeyByCredentialID(ctx, assertion.CredentialID)
	if errors.Is(err, domain.ErrPasskeyNotFound) {
		// Removed, or never registered here.
		return ports.TokenPair{}, domain.ErrInvalidPasskey
	}
	if err != nil {
		return ports.TokenPair{}, fmt.Errorf("look up passkey: %w", err)
	}
	user, err := s.users.UserByID(ctx, passkey.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return ports.TokenPair{}, domain.ErrInvalidPasskey
	}
	if err != nil {
		return ports.TokenPair{}, fmt.Errorf("look up user: %w", err)
	}
	*failed = failed.For(user.ID)
	// The passkey the assertion names is the only one it can answer with.
	login, err := s.verifyPasskey(ctx, user, []domain.Passkey{passkey}, state, credential, client, now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	// As /login: the account's state is told only to whoever proved they
	// own it.
	if err := s.checkNotLocked(ctx, user, now); err != nil {
		failed.Reason = domain.ReasonLocked
		return ports.TokenPair{}, err
	}
	if err := user.CheckCanLogin(); err != nil {
		failed.Reason = domain.ReasonNotActive
		if errors.Is(err, domain.ErrAccountDisabled) {
			failed.Reason = domain.ReasonDisabled
		}
		return ports.TokenPair{}, err
	}
	amr := login.Passkey.AMR(login.UserVerified)
	if user.MFA.Enabled() && !login.UserVerified {
		// The second factor must be another kind than the passkey that
		// was the first: a code.
		return ports.TokenPair{}, s.requireSecondFactor(ctx, user, amr, false, now)
	}
	proof := sessionProof{amr: amr}
	if login.UserVerified {
		proof.secondFactorAt = now
	}
	return s.startSession(ctx, user.ID, client, proof, domain.NewAuditEvent(domain.EventLogin, now, client).For(user.ID))
}

// verifyPasskey checks an assertion of one of passkeys, user's, against the
// ceremony's state and records its use. A signature counter that went
// backwards is refused and kept in the audit log: another copy of the key
// may be in use.
func (s *Service) verifyPasskey(ctx context.Context, user domain.User, passkeys []domain.Passkey, state, credential []byte, client domain.Client, now time.Time) (ports.PasskeyLogin, error) {
	login, err := s.relyingParty.VerifyLogin(state, holderOf(user), passkeys, credential)
	if errors.Is(err, ports.ErrPasskeyCloned) {
		s.log.WarnContext(ctx, "passkey signature counter went backwards: a cloned authenticator?", "user_id", user.ID, "passkey_id", login.Passkey.ID)
		s.record(ctx, domain.NewAuditEvent(domain.EventPasskeyCloneSuspected, now, client).For(user.ID).Because(login.Passkey.ID))
		return ports.PasskeyLogin{}, domain.ErrInvalidPasskey
	}
	if err != nil {
		return ports.PasskeyLogin{}, s.refusedPasskey(ctx, err)
	}
	used := login.Passkey
	_, err = s.passkeys.UpdatePasskey(ctx, user.ID, used.ID, func(p *domain.Passkey) (ports.Effects, error) {
		// Another login with the key may have been recorded meanwhile:
		// the counter never goes back.
		if p.SignCount > used.SignCount {
			return ports.Effects{}, ports.ErrPasskeyCloned
		}
		p.Use(used.SignCount, used.BackupState, now)
		return ports.Effects{}, nil
	})
	if errors.Is(err, ports.ErrPasskeyCloned) || errors.Is(err, domain.ErrPasskeyNotFound) {
		return ports.PasskeyLogin{}, domain.ErrInvalidPasskey
	}
	if err != nil {
		return ports.PasskeyLogin{}, fmt.Errorf("record the passkey's use: %w", err)
	}
	return login, nil
}

// checkNotLocked refuses a login to an account under a login lock, as
// /login does: a lock stops every way in until it ends or is lifted.
func (s *Service) checkNotLocked(ctx context.Context, user domain.User, now time.Time) error {
	until, err := s.throttle.LockedUntil(ctx, user.Email, now)
	if err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if !until.IsZero() {
		return domain.AccountLocked(until.Sub(now))
	}
	return nil
}

// LoginMFAWithPasskey finishes a login whose password was right with a
// passkey as the second factor, answering the options that came with
// domain.ErrMFARequired.
func (s *Service) LoginMFAWithPasskey(ctx context.Context, mfaToken string, credential []byte, client domain.Client) (ports.TokenPair, error) {
	if s.relyingParty == nil {
		return ports.TokenPair{}, domain.ErrPasskeysOff
	}
	var v domain.Validation
	v.Require("mfa_token", mfaToken)
	if len(credential) == 0 {
		v.Add("credential", credentialRequired)
	}
	if err := v.Err(); err != nil {
		return ports.TokenPair{}, err
	}
	now := s.now()
	failed := domain.NewAuditEvent(domain.EventLoginFailed, now, client)
	pair, err := s.finishSecondStep(ctx, mfaToken, client, now, &failed, func(user domain.User, c domain.Challenge) ([]string, error) {
		if len(c.Data) == 0 {
			// The second step offered no passkey.
			return nil, domain.ErrInvalidPasskey
		}
		if err := s.take(ctx, now, s.cfg.Limits.LoginPerSource, client.Source); err != nil {
			failed.Reason = domain.ReasonLimited
			return nil, err
		}
		passkeys, err := s.passkeys.Passkeys(ctx, user.ID)
		if err != nil {
			return nil, fmt.Errorf("list passkeys: %w", err)
		}
		login, err := s.verifyPasskey(ctx, user, passkeys, c.Data, credential, client, now)
		if err != nil {
			return nil, err
		}
		return login.Passkey.AMR(login.UserVerified), nil
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
