package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

// The routes of passkeys (WebAuthn): registering one for the signed-in
// user, managing them, and logging in with one. The options these routes
// return are the JSON forms that PublicKeyCredential.parseCreationOptionsFromJSON
// and parseRequestOptionsFromJSON take, and the credentials they accept are
// what PublicKeyCredential.toJSON gives, so a front end passes them through.

// jsonObject is a member whose value is a JSON object, kept as it was
// sent: null leaves it empty, and any other type is refused by name.
type jsonObject []byte

func (o *jsonObject) UnmarshalJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		*o = nil
	case len(raw) == 0 || raw[0] != '{':
		return wrongType{want: "an object"}
	default:
		*o = append((*o)[:0], raw...)
	}
	return nil
}

// passkeyResponse is one passkey as its owner sees it. The key itself and
// its counter stay in the service.
type passkeyResponse struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	CreatedAt      string   `json:"created_at"`
	LastUsedAt     *string  `json:"last_used_at"`
	BackupEligible bool     `json:"backup_eligible"`
	BackedUp       bool     `json:"backed_up"`
	Transports     []string `json:"transports"`
	AAGUID         string   `json:"aaguid"`
}

func passkeyResponseOf(p domain.Passkey) passkeyResponse {
	r := passkeyResponse{
		ID:             p.ID,
		Name:           p.Name,
		CreatedAt:      timestamp(p.CreatedAt),
		LastUsedAt:     optionalTimestamp(p.LastUsedAt),
		BackupEligible: p.BackupEligible,
		BackedUp:       p.BackupState,
		Transports:     p.Transports,
		AAGUID:         formatAAGUID(p.AAGUID),
	}
	if r.Transports == nil {
		r.Transports = []string{}
	}
	return r
}

// formatAAGUID writes an authenticator's model id as a UUID, the form in
// which the lists of authenticator models publish it; all zeros when the
// authenticator does not say.
func formatAAGUID(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	return domain.FormatUUID(u)
}

type passkeyOptionsRequest struct {
	// Code is a current authenticator code, for an account with two-step
	// login whose session did not use a second factor lately.
	Code string `json:"code"`
}

func (h *handlers) passkeyRegistrationOptions(c *gin.Context) {
	var req passkeyOptionsRequest
	if !decodeOptionalJSON(c, &req) {
		return
	}
	options, err := h.auth.PasskeyRegistrationOptions(c.Request.Context(), claimsOf(c), req.Code, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	writeOptions(c, options)
}

// writeOptions answers with a ceremony's options, which are single use.
func writeOptions(c *gin.Context, options json.RawMessage) {
	noStore(c)
	c.Data(http.StatusOK, "application/json; charset=utf-8", options)
}

type addPasskeyRequest struct {
	Credential jsonObject `json:"credential"`
	Name       string     `json:"name"`
}

func (h *handlers) addPasskey(c *gin.Context) {
	var req addPasskeyRequest
	if !decodeJSON(c, &req) {
		return
	}
	p, err := h.auth.AddPasskey(c.Request.Context(), claimsOf(c), req.Credential, req.Name, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, passkeyResponseOf(p))
}

type passkeysResponse struct {
	Passkeys []passkeyResponse `json:"passkeys"`
}

func (h *handlers) listPasskeys(c *gin.Context) {
	list, err := h.auth.Passkeys(c.Request.Context(), claimsOf(c).UserID)
	if err != nil {
		writeError(c, err)
		return
	}
	resp := passkeysResponse{Passkeys: make([]passkeyResponse, 0, len(list))}
	for _, p := range list {
		resp.Passkeys = append(resp.Passkeys, passkeyResponseOf(p))
	}
	noStore(c)
	c.JSON(http.StatusOK, resp)
}

type renamePasskeyRequest struct {
	Name string `json:"name"`
}

func (h *handlers) renamePasskey(c *gin.Context) {
	var req renamePasskeyRequest
	if !decodeJSON(c, &req) {
		return
	}
	p, err := h.auth.RenamePasskey(c.Request.Context(), claimsOf(c), c.Param("id"), req.Name, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, passkeyResponseOf(p))
}

func (h *handlers) removePasskey(c *gin.Context) {
	if err := h.auth.RemovePasskey(c.Request.Context(), claimsOf(c), c.Param("id"), h.clientOf(c)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) passkeyLoginOptions(c *gin.Context) {
	var req struct{}
	if !decodeOptionalJSON(c, &req) {
		return
	}
	options, err := h.auth.PasskeyLoginOptions(c.Request.Context(), h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	writeOptions(c, options)
}

type passkeyLoginRequest struct {
	Credential jsonObject `json:"credential"`
}

func (h *handlers) loginWithPasskey(c *gin.Context) {
	var req passkeyLoginRequest
	if !decodeJSON(c, &req) {
		return
	}
	pair, err := h.auth.LoginWithPasskey(c.Request.Context(), req.Credential, h.clientOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	writeTokens(c, pair)
}
