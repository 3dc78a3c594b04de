package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// The routes of two-step login: the second step of a login, and the
// enrolment of an authenticator app with its recovery codes.

type loginMFARequest struct {
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
	// Credential is a passkey's answer to the options of mfa_required.
	Credential json.RawMessage `json:"credential"`
}

func (h *handlers) loginMFA(c *gin.Context) {
	var req loginMFARequest
	if !decodeJSON(c, &req) {
		return
	}
	var (
		pair ports.TokenPair
		err  error
	)
	switch credential := credentialOf(req.Credential); {
	case credential != nil && (req.Code != "" || req.RecoveryCode != ""):
		err = domain.ValidationError("credential", "send one of code, recovery_code and credential")
	case credential != nil:
		pair, err = h.auth.LoginMFAWithPasskey(c.Request.Context(), req.MFAToken, credential, h.clientOf(c))
	default:
		pair, err = h.auth.LoginMFA(c.Request.Context(), req.MFAToken, req.Code, req.RecoveryCode, h.clientOf(c))
	}
	if err != nil {
		writeError(c, err)
		return
	}
	writeTokens(c, pair)
}

type totpEnrolmentResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRCode     string `json:"qr_code"`
}

func (h *handlers) startTOTP(c *gin.Context) {
	e, err := h.auth.StartTOTP(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, totpEnrolmentResponse{Secret: e.Secret, OTPAuthURI: e.URI, QRCode: e.QRCode})
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (h *handlers) confirmTOTP(c *gin.Context) {
	var req codeRequest
	if !decodeJSON(c, &req) {
		return
	}
	codes, err := h.auth.ConfirmTOTP(c.Request.Context(), claimsOf(c), req.Code, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
}

func (h *handlers) newRecoveryCodes(c *gin.Context) {
	var req codeRequest
	if !decodeJSON(c, &req) {
		return
	}
	codes, err := h.auth.NewRecoveryCodes(c.Request.Context(), claimsOf(c), req.Code, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
}

type disableTOTPRequest struct {
	Password     string `json:"password"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
}

func (h *handlers) disableTOTP(c *gin.Context) {
	var req disableTOTPRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := h.auth.DisableTOTP(c.Request.Context(), claimsOf(c), req.Password, req.Code, req.RecoveryCode, h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "two-step login is off"})
}
