package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// sessionProof is how a login's user proved who they were: the methods
// (AMR) and, if one was given, when the second factor was.
type sessionProof struct {
	amr            []string
	secondFactorAt time.Time
}

// startSession opens a session for a user who has just proved who they are
// and returns its first pair of tokens; events are saved with the session.
func (s *Service) startSession(ctx context.Context, userID string, client domain.Client, proof sessionProof, events ...domain.AuditEvent) (ports.TokenPair, error) {
	now := s.now()
	sessionID, err := domain.NewID(now, s.random)
	if err != nil {
		return ports.TokenPair{}, err
	}
	access, _, err := s.issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: userID, SessionID: sessionID, AMR: proof.amr}, now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	refresh, claims, err := s.issue(ports.TokenSpec{Kind: domain.RefreshToken, UserID: userID, SessionID: sessionID, AMR: proof.amr}, now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	session := domain.NewSession(sessionID, userID, claims.ID, client, now, s.cfg.SessionTTL)
	session.AMR, session.SecondFactorAt = proof.amr, proof.secondFactorAt
	if err := s.sessions.CreateSession(ctx, session, events...); err != nil {
		return ports.TokenPair{}, fmt.Errorf("create session: %w", err)
	}
	return ports.TokenPair{Access: access, Refresh: refresh}, nil
}

// Refresh exchanges a refresh token of a live session for a new access
// token and, with rotation on, a new refresh token.
func (s *Service) Refresh(ctx context.Context, refreshToken string, client domain.Client) (pair ports.TokenPair, err error) {
	defer func() { s.observe.Refreshed(err == nil) }()
	return s.refresh(ctx, refreshToken, client)
}

func (s *Service) refresh(ctx context.Context, refreshToken string, client domain.Client) (ports.TokenPair, error) {
	var v domain.Validation
	v.Require("refresh_token", refreshToken)
	if err := v.Err(); err != nil {
		return ports.TokenPair{}, err
	}
	now := s.now()
	claims, err := s.tokens.Verify(refreshToken, domain.RefreshToken, now)
	if err != nil {
		return ports.TokenPair{}, err
	}

	// Without rotation, a refresh of a live session changes nothing but its
	// last use, which is recorded at most once a minute: most refreshes are
	// then one read of the session and its account, not a synced write
	// queued behind every other writer.
	if !s.cfg.RotateRefreshTokens {
		sess, user, err := s.sessions.SessionWithUser(ctx, claims.SessionID)
		switch {
		case errors.Is(err, domain.ErrSessionNotFound):
			return ports.TokenPair{}, domain.ErrInvalidToken
		case err != nil:
			return ports.TokenPair{}, fmt.Errorf("read session: %w", err)
		case user.ID != claims.UserID || user.CheckCanLogin() != nil:
			return ports.TokenPair{}, domain.ErrInvalidToken
		case sess.UserID != claims.UserID || !sess.Live(now) || sess.RefreshTokenID != claims.ID:
			// Reuse is impossible without rotation, so any mismatch is
			// simply an invalid token; the update below would say the same.
			return ports.TokenPair{}, domain.ErrInvalidToken
		case now.Sub(sess.LastUsedAt) < lastUsedResolution:
			access, _, err := s.issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: sess.UserID, SessionID: sess.ID, AMR: sess.AMR}, now)
			return ports.TokenPair{Access: access}, err
		}
	} else {
		user, err := s.users.UserByID(ctx, claims.UserID)
		if errors.Is(err, domain.ErrUserNotFound) {
			return ports.TokenPair{}, domain.ErrInvalidToken
		}
		if err != nil {
			return ports.TokenPair{}, fmt.Errorf("look up user: %w", err)
		}
		if err := user.CheckCanLogin(); err != nil {
			return ports.TokenPair{}, domain.ErrInvalidToken
		}
	}

	var (
		pair     ports.TokenPair
		rejected error
	)
	_, err = s.sessions.UpdateSession(ctx, claims.SessionID, func(sess *domain.Session) ([]domain.AuditEvent, error) {
		if sess.UserID != claims.UserID || !sess.Live(now) {
			rejected = domain.ErrInvalidToken
			return nil, nil
		}
		grace := s.cfg.ReuseInterval
		if !s.cfg.RotateRefreshTokens {
			grace = 0
		}
		use := sess.UseRefreshToken(claims.ID, now, grace)
		var (
			issueErr error
			events   []domain.AuditEvent
		)
		switch {
		case use == domain.RefreshReused:
			// Saved on purpose: the revocation must stick.
			s.log.WarnContext(ctx, "refresh token reused; session revoked", "session_id", sess.ID, "user_id", sess.UserID)
			events = append(events, domain.NewAuditEvent(domain.EventRefreshReuse, now, client).For(sess.UserID))
			rejected = domain.ErrInvalidToken
		case !s.cfg.RotateRefreshTokens:
			pair.Access, _, issueErr = s.issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: sess.UserID, SessionID: sess.ID, AMR: sess.AMR}, now)
		case use == domain.RefreshRecentlyRotated:
			// A concurrent client racing the rotation: hand it the
			// session's current refresh token rather than sound an alarm.
			pair, issueErr = s.refreshPair(sess, sess.RefreshTokenID, now)
		default:
			pair, issueErr = s.refreshPair(sess, "", now)
		}
		return events, issueErr
	})
	switch {
	case errors.Is(err, domain.ErrSessionNotFound):
		return ports.TokenPair{}, domain.ErrInvalidToken
	case err != nil:
		return ports.TokenPair{}, fmt.Errorf("use session: %w", err)
	case rejected != nil:
		return ports.TokenPair{}, rejected
	}
	return pair, nil
}

// lastUsedResolution is how precisely a session's last use is kept.
const lastUsedResolution = time.Minute

// refreshPair issues an access token for sess and a refresh token with id
// refreshID, or a fresh id (rotating the session) when refreshID is empty.
func (s *Service) refreshPair(sess *domain.Session, refreshID string, now time.Time) (ports.TokenPair, error) {
	access, _, err := s.issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: sess.UserID, SessionID: sess.ID, AMR: sess.AMR}, now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	refresh, claims, err := s.issue(ports.TokenSpec{Kind: domain.RefreshToken, UserID: sess.UserID, SessionID: sess.ID, ID: refreshID, AMR: sess.AMR}, now)
	if err != nil {
		return ports.TokenPair{}, err
	}
	if refreshID == "" {
		sess.Rotate(claims.ID, now)
	}
	return ports.TokenPair{Access: access, Refresh: refresh}, nil
}

// Logout ends the session of a refresh token.
func (s *Service) Logout(ctx context.Context, refreshToken string, client domain.Client) error {
	var v domain.Validation
	v.Require("refresh_token", refreshToken)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now()
	claims, err := s.tokens.Verify(refreshToken, domain.RefreshToken, now)
	if err != nil {
		return err
	}
	_, err = s.sessions.UpdateSession(ctx, claims.SessionID, func(sess *domain.Session) ([]domain.AuditEvent, error) {
		if sess.UserID != claims.UserID {
			return nil, domain.ErrInvalidToken
		}
		sess.Revoke(now)
		return []domain.AuditEvent{domain.NewAuditEvent(domain.EventLogout, now, client).For(sess.UserID)}, nil
	})
	if errors.Is(err, domain.ErrSessionNotFound) {
		return domain.ErrInvalidToken
	}
	return err
}

// LogoutAll ends every session of the user.
func (s *Service) LogoutAll(ctx context.Context, userID string, client domain.Client) (int, error) {
	now := s.now()
	return s.sessions.RevokeSessions(ctx, userID, now, "", domain.NewAuditEvent(domain.EventLogoutAll, now, client).For(userID))
}

// Sessions lists the user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]domain.Session, error) {
	return s.sessions.SessionsOfUser(ctx, userID, s.now())
}

// EndSession ends one of the user's sessions. Another user's session is
// reported as not found, so its existence is not revealed.
func (s *Service) EndSession(ctx context.Context, userID, sessionID string, client domain.Client) error {
	now := s.now()
	_, err := s.sessions.UpdateSession(ctx, sessionID, func(sess *domain.Session) ([]domain.AuditEvent, error) {
		if sess.UserID != userID || !sess.Live(now) {
			return nil, domain.ErrSessionNotFound
		}
		sess.Revoke(now)
		return []domain.AuditEvent{domain.NewAuditEvent(domain.EventSessionEnded, now, client).For(userID)}, nil
	})
	return err
}

// activityPage is how many events GET /me/activity shows.
const activityPage = 50

// Activity returns the user's own most recent security events, newest
// first, so that a login that was not theirs can be noticed.
func (s *Service) Activity(ctx context.Context, userID string) ([]domain.AuditEvent, error) {
	return s.audit.AuditEvents(ctx, ports.AuditQuery{UserID: userID, Limit: activityPage})
}
