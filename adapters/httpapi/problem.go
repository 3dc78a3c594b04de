package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the one shape of every error response: RFC 9457 problem details
// with a stable machine-readable code and, for validation failures, the list
// of invalid fields.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      string         `json:"code"`
	Errors    []FieldProblem `json:"errors,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	// MFAToken and Methods are the extension members of mfa_required: the
	// token of the login's second step and the factors it accepts; with
	// "webauthn" among them, WebAuthn holds the request options for the
	// browser's navigator.credentials.get.
	MFAToken string          `json:"mfa_token,omitempty"`
	Methods  []string        `json:"methods,omitempty"`
	WebAuthn json.RawMessage `json:"webauthn,omitempty"`
}

// FieldProblem names one invalid request field.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Codes of problems that arise in HTTP itself rather than in the core.
const (
	codeMalformedBody        domain.Code = "malformed_body"
	codeBodyTooLarge         domain.Code = "body_too_large"
	codeUnsupportedMediaType domain.Code = "unsupported_media_type"
	codeRouteNotFound        domain.Code = "not_found"
	codeMethodNotAllowed     domain.Code = "method_not_allowed"
)

type problemKind struct {
	status int
	title  string
}

// problemKinds is the one place where error codes become HTTP statuses.
var problemKinds = map[domain.Code]problemKind{
	domain.CodeValidationFailed:   {http.StatusBadRequest, "Validation failed"},
	domain.CodeEmailTaken:         {http.StatusBadRequest, "Email already registered"},
	domain.CodeUserNotFound:       {http.StatusNotFound, "User not found"},
	domain.CodeInvalidCode:        {http.StatusBadRequest, "Invalid activation code"},
	domain.CodeCodeExpired:        {http.StatusBadRequest, "Activation code expired"},
	domain.CodeCodeExhausted:      {http.StatusBadRequest, "Activation code exhausted"},
	domain.CodeAlreadyActive:      {http.StatusBadRequest, "Account already active"},
	domain.CodeInvalidCredentials: {http.StatusUnauthorized, "Invalid credentials"},
	domain.CodeAccountNotActive:   {http.StatusForbidden, "Account not active"},
	domain.CodeAccountDisabled:    {http.StatusForbidden, "Account disabled"},
	domain.CodeMFARequired:        {http.StatusForbidden, "Second factor required"},
	domain.CodeInvalidMFACode:     {http.StatusUnauthorized, "Invalid second factor"},
	domain.CodeMFAStepUpRequired:  {http.StatusForbidden, "Recent second factor required"},
	domain.CodeMFAAlreadyEnabled:  {http.StatusConflict, "Two-step login already on"},
	domain.CodeMFANotEnabled:      {http.StatusConflict, "Two-step login not on"},
	domain.CodeNoPendingTOTP:      {http.StatusConflict, "No enrolment pending"},
	domain.CodeInvalidPasskey:     {http.StatusBadRequest, "Invalid passkey"},
	domain.CodePasskeyNotFound:    {http.StatusNotFound, "Passkey not found"},
	domain.CodePasskeyExists:      {http.StatusConflict, "Passkey already registered"},
	domain.CodeTooManyPasskeys:    {http.StatusConflict, "Too many passkeys"},
	domain.CodeInvalidAdminKey:    {http.StatusUnauthorized, "Invalid admin key"},
	domain.CodeAdminKeyExists:     {http.StatusConflict, "Admin key exists"},
	domain.CodeAdminKeyNotFound:   {http.StatusNotFound, "Admin key not found"},
	domain.CodeInvalidToken:       {http.StatusUnauthorized, "Invalid token"},
	domain.CodeSessionNotFound:    {http.StatusNotFound, "Session not found"},
	domain.CodeTooManyRequests:    {http.StatusTooManyRequests, "Too many requests"},
	domain.CodeAccountLocked:      {http.StatusForbidden, "Account locked"},
	domain.CodeInvalidResetCode:   {http.StatusBadRequest, "Invalid reset code"},
	domain.CodeInvalidUnlockToken: {http.StatusBadRequest, "Invalid unlock link"},
	domain.CodeUnavailable:        {http.StatusServiceUnavailable, "Service unavailable"},
	domain.CodeInternal:           {http.StatusInternalServerError, "Internal server error"},
	codeMalformedBody:             {http.StatusBadRequest, "Malformed request body"},
	codeBodyTooLarge:              {http.StatusRequestEntityTooLarge, "Request body too large"},
	codeUnsupportedMediaType:      {http.StatusUnsupportedMediaType, "Unsupported media type"},
	codeRouteNotFound:             {http.StatusNotFound, "Not found"},
	codeMethodNotAllowed:          {http.StatusMethodNotAllowed, "Method not allowed"},
}

// retryAfterSeconds is what a 503, or a 429 that knows no better, advises
// clients to wait.
const retryAfterSeconds = "5"

// writeError answers with the problem that err stands for. Errors that are not
// domain errors are internal: they are logged, and the client learns nothing
// about them.
func writeError(c *gin.Context, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		logger(c).ErrorContext(c.Request.Context(), "request failed", "error", err)
		writeProblem(c, domain.CodeInternal, "an unexpected error occurred; it has been logged", nil)
		return
	}
	if de.Code == domain.CodeUnavailable {
		logger(c).WarnContext(c.Request.Context(), "dependency unavailable", "error", err)
	}
	if de.RetryAfter > 0 {
		c.Header("Retry-After", strconv.FormatInt(int64(math.Ceil(de.RetryAfter.Seconds())), 10))
	}
	var fields []FieldProblem
	for _, f := range de.Fields {
		fields = append(fields, FieldProblem{Field: f.Field, Message: f.Message})
	}
	if de.MFAToken != "" {
		// The second step's token is a credential, if a short-lived one.
		noStore(c)
		writeProblem(c, de.Code, de.Message, fields, func(p *Problem) {
			p.MFAToken, p.Methods, p.WebAuthn = de.MFAToken, de.Methods, de.PasskeyOptions
		})
		return
	}
	writeProblem(c, de.Code, de.Message, fields)
}

// writeProblem aborts the request with a problem response, which extend, if
// given, adds members to.
func writeProblem(c *gin.Context, code domain.Code, detail string, fields []FieldProblem, extend ...func(*Problem)) {
	kind, ok := problemKinds[code]
	if !ok {
		kind = problemKinds[domain.CodeInternal]
	}
	switch kind.status {
	case http.StatusUnauthorized:
		if code == domain.CodeInvalidToken && c.GetBool(bearerProtectedKey) {
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", retryAfterSeconds)
		}
	}
	c.Header("Content-Type", ProblemContentType)
	p := Problem{
		Type:      "/problems/" + string(code),
		Title:     kind.title,
		Status:    kind.status,
		Detail:    detail,
		Code:      string(code),
		Errors:    fields,
		RequestID: requestID(c),
	}
	for _, e := range extend {
		e(&p)
	}
	c.AbortWithStatusJSON(kind.status, p)
}
