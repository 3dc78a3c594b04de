package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// timestampLayout is RFC 3339 at the millisecond precision that accounts are
// stored with, so a timestamp reads the same in every response.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

type handlers struct {
	auth  ports.AuthService
	ready Pinger
	mail  MailStatus
	keys  KeySet
	// ipv6Prefix is the length of the network an IPv6 client counts as.
	ipv6Prefix int
}

type signupRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type verifyRequest struct {
	Email          string `json:"email"`
	ActivationCode string `json:"activation_code"`
	// Token is the token of the emailed link, sent instead of the code.
	Token string `json:"token"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type emailRequest struct {
	Email string `json:"email"`
}

type resetPasswordRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
	// Token is the token of the emailed link, sent instead of the code.
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

type unlockRequest struct {
	Email string `json:"email"`
	Token string `json:"token"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	// EndCurrentSession ends the caller's own session too.
	EndCurrentSession bool `json:"end_current_session"`
}

type passwordRequest struct {
	Password string `json:"password"`
}

type userResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	IsActive  bool   `json:"is_active"`
	CreatedAt string `json:"created_at"`
}

type loginResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

type refreshResponse struct {
	AccessToken string `json:"access_token"`
	// RefreshToken is set only when refresh tokens rotate.
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

type sessionResponse struct {
	ID         string `json:"id"`
	Current    bool   `json:"current"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
}

type sessionsResponse struct {
	Sessions []sessionResponse `json:"sessions"`
}

type messageResponse struct {
	Message string `json:"message"`
}

type statusResponse struct {
	Status string `json:"status"`
}

type readyResponse struct {
	Status string       `json:"status"`
	Mail   mailResponse `json:"mail"`
}

type mailResponse struct {
	Pending              int   `json:"pending"`
	Sent                 int   `json:"sent"`
	Dead                 int   `json:"dead"`
	Superseded           int   `json:"superseded"`
	OldestPendingSeconds int64 `json:"oldest_pending_seconds"`
}

func newUserResponse(u domain.User) userResponse {
	return userResponse{
		ID:        u.ID,
		Email:     string(u.Email),
		FirstName: u.FirstName,
		LastName:  u.LastName,
		IsActive:  u.Active,
		CreatedAt: timestamp(u.CreatedAt),
	}
}

func (h *handlers) signup(c *gin.Context) {
	var req signupRequest
	if !decodeJSON(c, &req) {
		return
	}
	user, err := h.auth.Signup(c.Request.Context(), ports.SignupRequest{
		Email: req.Email, Password: req.Password, FirstName: req.FirstName, LastName: req.LastName,
	}, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, newUserResponse(user))
}

func (h *handlers) verify(c *gin.Context) {
	var req verifyRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.Verify(c.Request.Context(), req.Email, proofOf(req.ActivationCode, req.Token), h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "account activated; you can now log in"})
}

func (h *handlers) resendActivation(c *gin.Context) {
	var req emailRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.ResendActivation(c.Request.Context(), req.Email, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "a new activation code has been sent"})
}

func (h *handlers) login(c *gin.Context) {
	var req loginRequest
	if !decodeJSON(c, &req) {
		return
	}
	pair, err := h.auth.Login(c.Request.Context(), req.Email, req.Password, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, loginResponse{
		AccessToken:  pair.Access.Token,
		RefreshToken: pair.Refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    seconds(pair.Access.ExpiresIn),
	})
}

func (h *handlers) refresh(c *gin.Context) {
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	pair, err := h.auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		writeError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, refreshResponse{
		AccessToken:  pair.Access.Token,
		RefreshToken: pair.Refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    seconds(pair.Access.ExpiresIn),
	})
}

func (h *handlers) logout(c *gin.Context) {
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.Logout(c.Request.Context(), req.RefreshToken); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the session has ended"})
}

func (h *handlers) logoutAll(c *gin.Context) {
	n, err := h.auth.LogoutAll(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: fmt.Sprintf("%d session(s) ended", n)})
}

func (h *handlers) listSessions(c *gin.Context) {
	claims := claimsOf(c)
	sessions, err := h.auth.Sessions(c.Request.Context(), claims.UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	res := sessionsResponse{Sessions: make([]sessionResponse, len(sessions))}
	for i, s := range sessions {
		res.Sessions[i] = sessionResponse{
			ID:         s.ID,
			Current:    s.ID == claims.SessionID,
			CreatedAt:  timestamp(s.CreatedAt),
			LastUsedAt: timestamp(s.LastUsedAt),
			ExpiresAt:  timestamp(s.ExpiresAt),
			UserAgent:  s.UserAgent,
			IP:         s.IP,
		}
	}
	noStore(c)
	c.JSON(http.StatusOK, res)
}

func (h *handlers) endSession(c *gin.Context) {
	if err := h.auth.EndSession(c.Request.Context(), claimsOf(c).UserID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the session has ended"})
}

func (h *handlers) forgotPassword(c *gin.Context) {
	var req emailRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.ForgotPassword(c.Request.Context(), req.Email, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, messageResponse{
		Message: "if this address has an account, an email with instructions is on its way",
	})
}

func (h *handlers) resetPassword(c *gin.Context) {
	var req resetPasswordRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.ResetPassword(c.Request.Context(), req.Email, proofOf(req.Code, req.Token), req.NewPassword, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the password has been changed and every session has ended; log in again"})
}

func (h *handlers) unlock(c *gin.Context) {
	var req unlockRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.Unlock(c.Request.Context(), req.Email, req.Token, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the account is unlocked; you can log in again"})
}

// proofOf is what a request presents for a pending code: the token of the
// emailed link when it sends one, the typed code otherwise.
func proofOf(code, token string) domain.Proof {
	if token != "" {
		return domain.LinkProof(token)
	}
	return domain.CodeProof(code)
}

func (h *handlers) changePassword(c *gin.Context) {
	var req changePasswordRequest
	if !decodeJSON(c, &req) {
		return
	}
	err := h.auth.ChangePassword(c.Request.Context(), claimsOf(c), req.CurrentPassword, req.NewPassword, req.EndCurrentSession, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	message := "the password has been changed and every other session has ended"
	if req.EndCurrentSession {
		message = "the password has been changed and every session has ended; log in again"
	}
	c.JSON(http.StatusOK, messageResponse{Message: message})
}

func (h *handlers) deleteAccount(c *gin.Context) {
	var req passwordRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.DeleteAccount(c.Request.Context(), claimsOf(c).UserID, req.Password, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the account has been deleted"})
}

func (h *handlers) authenticate(c *gin.Context, token string) (domain.Claims, error) {
	return h.auth.Authenticate(c.Request.Context(), token)
}

func (h *handlers) me(c *gin.Context) {
	user, err := h.auth.CurrentUser(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(user))
}

func (h *handlers) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// readyz reports whether the database answers, with the state of the mail
// outbox for operators: dead or long-pending mail needs a look at the mail
// server, though it does not make the service unready.
func (h *handlers) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.ready.Ping(ctx); err != nil {
		logger(c).WarnContext(ctx, "not ready", "error", err)
		writeProblem(c, domain.CodeUnavailable, "the database does not answer", nil)
		return
	}
	stats, err := h.mail.Stats(ctx)
	if err != nil {
		logger(c).WarnContext(ctx, "not ready: outbox unreadable", "error", err)
		writeProblem(c, domain.CodeUnavailable, "the database does not answer", nil)
		return
	}
	c.JSON(http.StatusOK, readyResponse{Status: "ready", Mail: mailResponse{
		Pending:              stats.Pending,
		Sent:                 stats.Sent,
		Dead:                 stats.Dead,
		Superseded:           stats.Superseded,
		OldestPendingSeconds: seconds(stats.OldestPending),
	}})
}

func (h *handlers) jwksDocument(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", h.keys.JWKS())
}

// clientOf describes the caller. The address comes from the socket, or from
// X-Forwarded-For when the socket is one of the trusted proxies. It is
// written in one canonical form, since limits count per address: an
// IPv4-mapped IPv6 address is the IPv4 address, and an IPv6 address counts
// as its whole network of the configured prefix length.
func (h *handlers) clientOf(c *gin.Context) domain.Client {
	client := domain.Client{IP: c.ClientIP(), UserAgent: c.GetHeader("User-Agent")}
	addr, err := netip.ParseAddr(client.IP)
	if err != nil {
		// gin vouches for the address it returns; keep it as the key
		// rather than guess.
		client.Source = client.IP
		return client
	}
	addr = addr.Unmap().WithZone("")
	client.IP = addr.String()
	client.Source = client.IP
	if addr.Is6() {
		if prefix, err := addr.Prefix(h.ipv6Prefix); err == nil {
			client.Source = prefix.String()
		}
	}
	return client
}

// noStore keeps responses that carry tokens out of caches (RFC 6749 5.1).
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func timestamp(t time.Time) string { return t.UTC().Format(timestampLayout) }
