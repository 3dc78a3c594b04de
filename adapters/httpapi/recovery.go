package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

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

type resetPasswordRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
	// Token is the token of the emailed link, sent instead of the code.
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
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

// proofOf is what a request presents for a pending code: the token of the
// emailed link when it sends one, the typed code otherwise.
func proofOf(code, token string) domain.Proof {
	if token != "" {
		return domain.LinkProof(token)
	}
	return domain.CodeProof(code)
}

type unlockRequest struct {
	Email string `json:"email"`
	Token string `json:"token"`
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

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	// EndCurrentSession ends the caller's own session too.
	EndCurrentSession bool `json:"end_current_session"`
	// Code is a current authenticator code, for the step-up of an account
	// with two-step login whose session gave no recent second factor.
	Code string `json:"code"`
}

func (h *handlers) changePassword(c *gin.Context) {
	var req changePasswordRequest
	if !decodeJSON(c, &req) {
		return
	}
	err := h.auth.ChangePassword(c.Request.Context(), claimsOf(c), req.CurrentPassword, req.NewPassword, req.EndCurrentSession, req.Code, h.clientOf(c))
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
