// Package webauthn is the relying party of passkeys (ports.RelyingParty):
// it runs the W3C Web Authentication ceremonies with go-webauthn, which
// parses and checks what authenticators return. The service keeps the
// ceremonies' state between their two requests; this package keeps none.
package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.RelyingParty = (*RelyingParty)(nil)

// Config names the relying party.
type Config struct {
	// RPID is the domain passkeys are bound to, such as "example.com": the
	// host of every allowed origin must be it or one of its subdomains.
	RPID string
	// DisplayName is the name authenticators show, such as the product's.
	DisplayName string
	// Origins are the exact origins (scheme://host[:port]) whose pages may
	// run the ceremonies.
	Origins []string
	// Timeout is how long the browser gives the user to answer.
	Timeout time.Duration
}

// RelyingParty runs the ceremonies for one relying party.
type RelyingParty struct {
	wa *webauthn.WebAuthn
}

// New checks cfg and returns its relying party.
func New(cfg Config) (*RelyingParty, error) {
	if cfg.RPID == "" || cfg.DisplayName == "" {
		return nil, errors.New("webauthn relying party: an RP ID and a display name are required")
	}
	for _, o := range cfg.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("webauthn relying party: origin %q is not scheme://host[:port]", o)
		}
		// A browser refuses a ceremony whose RP ID is not the page's host
		// or a parent of it; better to say so at start-up than to fail
		// every ceremony.
		if host := u.Hostname(); host != cfg.RPID && !strings.HasSuffix(host, "."+cfg.RPID) {
			return nil, fmt.Errorf("webauthn relying party: origin %s is not on %s or one of its subdomains, so browsers would refuse its passkeys", o, cfg.RPID)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = domain.PasskeyChallengeTTL
	}
	timeout := webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.DisplayName,
		RPOrigins:     cfg.Origins,
		// Attestation would tell which make of authenticator made a key;
		// nothing here depends on it, and asking for it makes browsers
		// prompt the user for consent.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// A discoverable credential (a passkey proper) lets the user
			// log in without typing an email; an authenticator that
			// cannot store one still makes a key for the second factor.
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		// The service's own challenge store expires ceremonies, with the
		// injected clock; go-webauthn's expiry would read the wall clock.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn relying party: %w", err)
	}
	return &RelyingParty{wa: wa}, nil
}

// RegistrationOptions starts registering a passkey for user.
func (rp *RelyingParty) RegistrationOptions(user ports.PasskeyHolder, existing []domain.Passkey, challenge []byte) (ports.Ceremony, error) {
	creation, session, err := rp.wa.BeginRegistration(holder{user, existing},
		webauthn.WithExclusions(descriptors(existing)),
		// credProps tells whether the authenticator made a discoverable
		// credential, which a browser reports if asked.
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
		func(o *protocol.PublicKeyCredentialCreationOptions) error {
			o.Challenge = challenge
			return nil
		})
	if err != nil {
		return ports.Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return ceremony(creation, session)
}

// VerifyRegistration checks the browser's answer to a registration.
func (rp *RelyingParty) VerifyRegistration(state []byte, user ports.PasskeyHolder, response []byte) (domain.Passkey, error) {
	session, err := sessionOf(state)
	if err != nil {
		return domain.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return domain.Passkey{}, refused(err)
	}
	cred, err := rp.wa.CreateCredential(holder{user, nil}, session, parsed)
	if err != nil {
		return domain.Passkey{}, refused(err)
	}
	transports := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	return domain.Passkey{
		CredentialID:      cred.ID,
		PublicKey:         cred.PublicKey,
		AttestationType:   cred.AttestationType,
		AttestationFormat: cred.AttestationFormat,
		AAGUID:            cred.Authenticator.AAGUID,
		SignCount:         cred.Authenticator.SignCount,
		Transports:        transports,
		Attachment:        string(cred.Authenticator.Attachment),
		UserVerified:      cred.Flags.UserVerified,
		BackupEligible:    cred.Flags.BackupEligible,
		BackupState:       cred.Flags.BackupState,
	}, nil
}

// RegistrationChallenge reads the challenge a registration response answers.
func (rp *RelyingParty) RegistrationChallenge(response []byte) (string, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return "", refused(err)
	}
	return parsed.Response.CollectedClientData.Challenge, nil
}

// LoginOptions starts a login with one of allowed, or with any discoverable
// credential when allowed is empty.
func (rp *RelyingParty) LoginOptions(allowed []domain.Passkey, challenge []byte) (ports.Ceremony, error) {
	withChallenge := webauthn.WithChallenge(challenge)
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		err       error
	)
	if len(allowed) == 0 {
		assertion, session, err = rp.wa.BeginDiscoverableLogin(withChallenge)
	} else {
		// The user handle of the session must be the account's; every
		// allowed passkey is of one account.
		assertion, session, err = rp.wa.BeginLogin(holder{ports.PasskeyHolder{Handle: []byte(allowed[0].UserID)}, allowed}, withChallenge)
	}
	if err != nil {
		return ports.Ceremony{}, fmt.Errorf("begin passkey login: %w", err)
	}
	return ceremony(assertion, session)
}

// ReadAssertion reads a login response without checking it.
func (rp *RelyingParty) ReadAssertion(response []byte) (ports.Assertion, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return ports.Assertion{}, refused(err)
	}
	return ports.Assertion{
		Challenge:    parsed.Response.CollectedClientData.Challenge,
		CredentialID: parsed.RawID,
		UserHandle:   parsed.Response.UserHandle,
	}, nil
}

// VerifyLogin checks the browser's answer to a login, made with one of
// user's passkeys.
func (rp *RelyingParty) VerifyLogin(state []byte, user ports.PasskeyHolder, passkeys []domain.Passkey, response []byte) (ports.PasskeyLogin, error) {
	session, err := sessionOf(state)
	if err != nil {
		return ports.PasskeyLogin{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return ports.PasskeyLogin{}, refused(err)
	}
	h := holder{user, passkeys}
	var cred *webauthn.Credential
	if len(session.UserID) == 0 {
		cred, err = rp.wa.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			if !bytes.Equal(userHandle, user.Handle) {
				return nil, errors.New("the user handle is not the account's")
			}
			return h, nil
		}, session, parsed)
	} else {
		cred, err = rp.wa.ValidateLogin(h, session, parsed)
	}
	if err != nil {
		return ports.PasskeyLogin{}, refused(err)
	}
	var used domain.Passkey
	for _, p := range passkeys {
		if bytes.Equal(p.CredentialID, cred.ID) {
			used = p
		}
	}
	if used.ID == "" {
		return ports.PasskeyLogin{}, refused(errors.New("the credential verified is not among the account's"))
	}
	login := ports.PasskeyLogin{Passkey: used, UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified()}
	if cred.Authenticator.CloneWarning {
		return login, ports.ErrPasskeyCloned
	}
	login.Passkey.SignCount = cred.Authenticator.SignCount
	login.Passkey.BackupState = cred.Flags.BackupState
	return login, nil
}

// holder is an account as go-webauthn sees it.
type holder struct {
	ports.PasskeyHolder
	passkeys []domain.Passkey
}

func (h holder) WebAuthnID() []byte          { return h.Handle }
func (h holder) WebAuthnName() string        { return h.Name }
func (h holder) WebAuthnDisplayName() string { return h.DisplayName }

func (h holder) WebAuthnCredentials() []webauthn.Credential {
	creds := make([]webauthn.Credential, len(h.passkeys))
	for i, p := range h.passkeys {
		creds[i] = webauthn.Credential{
			ID:                p.CredentialID,
			PublicKey:         p.PublicKey,
			AttestationType:   p.AttestationType,
			AttestationFormat: p.AttestationFormat,
			Transport:         transports(p.Transports),
			Flags: webauthn.CredentialFlags{
				UserPresent:    true,
				UserVerified:   p.UserVerified,
				BackupEligible: p.BackupEligible,
				BackupState:    p.BackupState,
			},
			Authenticator: webauthn.Authenticator{
				AAGUID:     p.AAGUID,
				SignCount:  p.SignCount,
				Attachment: protocol.AuthenticatorAttachment(p.Attachment),
			},
		}
	}
	return creds
}

func descriptors(passkeys []domain.Passkey) []protocol.CredentialDescriptor {
	list := make([]protocol.CredentialDescriptor, len(passkeys))
	for i, p := range passkeys {
		list[i] = protocol.CredentialDescriptor{
			Type:         protocol.PublicKeyCredentialType,
			CredentialID: p.CredentialID,
			Transport:    transports(p.Transports),
		}
	}
	return list
}

func transports(names []string) []protocol.AuthenticatorTransport {
	list := make([]protocol.AuthenticatorTransport, len(names))
	for i, n := range names {
		list[i] = protocol.AuthenticatorTransport(n)
	}
	return list
}

// ceremony keeps the options for the browser and the session for the end.
func ceremony(options any, session *webauthn.SessionData) (ports.Ceremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return ports.Ceremony{}, fmt.Errorf("encode passkey options: %w", err)
	}
	state, err := json.Marshal(session)
	if err != nil {
		return ports.Ceremony{}, fmt.Errorf("encode passkey ceremony: %w", err)
	}
	return ports.Ceremony{Options: opts, State: state, Challenge: session.Challenge}, nil
}

func sessionOf(state []byte) (webauthn.SessionData, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil || session.Challenge == "" {
		// The service stored it: not the client's fault.
		return webauthn.SessionData{}, fmt.Errorf("read the passkey ceremony's state: %v", err)
	}
	return session, nil
}

// refused is domain.ErrInvalidPasskey with what go-webauthn found, for the
// service's log: the client gets the domain error's message alone.
func refused(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		reason := strings.TrimSpace(pe.Details + " " + pe.DevInfo)
		return fmt.Errorf("%w (%s)", domain.ErrInvalidPasskey, reason)
	}
	return fmt.Errorf("%w (%v)", domain.ErrInvalidPasskey, err)
}
