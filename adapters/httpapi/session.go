package httpapi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
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
	writeTokens(c, pair)
}

// tokenResponse is what a login or a refresh returns. A refresh leaves
// RefreshToken empty unless refresh tokens rotate.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// writeTokens answers a login or a refresh with its tokens, which no cache
// may keep.
func writeTokens(c *gin.Context, pair ports.TokenPair) {
	noStore(c)
	c.JSON(http.StatusOK, tokenResponse{
		AccessToken:  pair.Access.Token,
		RefreshToken: pair.Refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    seconds(pair.Access.ExpiresIn),
	})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (h *handlers) refresh(c *gin.Context) {
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	pair, err := h.auth.Refresh(c.Request.Context(), req.RefreshToken, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	writeTokens(c, pair)
}

func (h *handlers) logout(c *gin.Context) {
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.Logout(c.Request.Context(), req.RefreshToken, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the session has ended"})
}

func (h *handlers) logoutAll(c *gin.Context) {
	n, err := h.auth.LogoutAll(c.Request.Context(), claimsOf(c).UserID, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: fmt.Sprintf("%d session(s) ended", n)})
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
	if err := h.auth.EndSession(c.Request.Context(), claimsOf(c).UserID, c.Param("id"), h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the session has ended"})
}

func (h *handlers) authenticate(c *gin.Context, token string) (domain.Claims, error) {
	return h.auth.Authenticate(c.Request.Context(), token)
}

type activityEvent struct {
	At         string `json:"at"`
	Event      string `json:"event"`
	Reason     string `json:"reason,omitempty"`
	ByOperator bool   `json:"by_operator"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
}

type activityResponse struct {
	Events []activityEvent `json:"events"`
}

// activity shows the caller the account's own recent security events. The
// email typed in a failed login and the name of an operator's key stay in
// the operators' log.
func (h *handlers) activity(c *gin.Context) {
	events, err := h.auth.Activity(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	res := activityResponse{Events: make([]activityEvent, len(events))}
	for i, e := range events {
		res.Events[i] = activityEvent{
			At:         timestamp(e.At),
			Event:      string(e.Type),
			Reason:     e.Reason,
			ByOperator: e.Actor != "",
			IP:         e.IP,
			UserAgent:  e.UserAgent,
		}
	}
	noStore(c)
	c.JSON(http.StatusOK, res)
}
