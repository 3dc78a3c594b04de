package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

type signupRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
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

type verifyRequest struct {
	Email          string `json:"email"`
	ActivationCode string `json:"activation_code"`
	// Token is the token of the emailed link, sent instead of the code.
	Token string `json:"token"`
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

type emailRequest struct {
	Email string `json:"email"`
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

type userResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	IsActive  bool   `json:"is_active"`
	CreatedAt string `json:"created_at"`
	// MFA is the account's second factor, on GET /me.
	MFA *mfaResponse `json:"mfa,omitempty"`
}

type mfaResponse struct {
	// Factors lists the second factors the account has: "totp", or none.
	Factors           []string `json:"factors"`
	RecoveryCodesLeft int      `json:"recovery_codes_left"`
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

func (h *handlers) me(c *gin.Context) {
	user, err := h.auth.CurrentUser(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	res := newUserResponse(user)
	res.MFA = &mfaResponse{Factors: []string{}, RecoveryCodesLeft: len(user.MFA.RecoveryCodes)}
	if user.MFA.Enabled() {
		res.MFA.Factors = append(res.MFA.Factors, "totp")
	}
	c.JSON(http.StatusOK, res)
}

type deleteAccountRequest struct {
	Password string `json:"password"`
	// Code is a current authenticator code, for the step-up of an account
	// with two-step login whose session gave no recent second factor.
	Code string `json:"code"`
}

func (h *handlers) deleteAccount(c *gin.Context) {
	var req deleteAccountRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.DeleteAccount(c.Request.Context(), claimsOf(c), req.Password, req.Code, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the account has been deleted"})
}
