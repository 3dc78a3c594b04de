package httpapi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
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
	noStore(c)
	c.JSON(http.StatusOK, tokenResponse{
		AccessToken:  pair.Access.Token,
		RefreshToken: pair.Refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    seconds(pair.Access.ExpiresIn),
	})
}

// tokenResponse is what a login or a refresh returns. A refresh leaves
// RefreshToken empty unless refresh tokens rotate.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
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
	c.JSON(http.StatusOK, tokenResponse{
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
	if err := h.auth.EndSession(c.Request.Context(), claimsOf(c).UserID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the session has ended"})
}

func (h *handlers) authenticate(c *gin.Context, token string) (domain.Claims, error) {
	return h.auth.Authenticate(c.Request.Context(), token)
}
