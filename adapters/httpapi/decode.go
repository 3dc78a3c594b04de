package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

// MaxBodyBytes bounds request bodies to what the largest legitimate request
// needs. That is a signup with every field at its limit and every character
// written as a JSON escape: 254 bytes of email (1,524 escaped), 128
// characters of password and 100 of each name (12 bytes each as escaped
// surrogate pairs: 1,536 and 1,200 twice), about 5.5 KiB with the member
// names. A larger body is refused before it is read, so that no request can
// make the service hold more than this of it.
const MaxBodyBytes = 8 << 10

// MaxPasskeyBodyBytes bounds the bodies of the routes that take a browser's
// WebAuthn response, which may carry an attestation with its certificate
// chain and a credential id of up to 1,023 bytes: a few KiB at most, with
// room to spare.
const MaxPasskeyBodyBytes = 64 << 10

// bodyLimit is the most a request body to route may hold.
func bodyLimit(route string) int64 {
	switch route {
	case "/me/passkeys", "/login/passkey", "/login/mfa":
		return MaxPasskeyBodyBytes
	}
	return MaxBodyBytes
}

// bodyTooLarge answers a body over limit.
func bodyTooLarge(c *gin.Context, limit int64) {
	writeProblem(c, codeBodyTooLarge, fmt.Sprintf("the body must be at most %d KiB", limit>>10), nil)
}

// decodeJSON reads the request body into dst, a pointer to a struct with
// json tags, and reports whether it could. On failure it has already answered
// with a problem. Unknown fields are ignored so that clients may send more
// than this version understands; names match exactly, as documented.
func decodeJSON(c *gin.Context, dst any) bool {
	return decodeBody(c, dst, false)
}

// decodeStrictJSON is decodeJSON for a body whose members each ask for a
// change: a member that dst has no field for, or that is null, is refused,
// each such member named, rather than ignored.
func decodeStrictJSON(c *gin.Context, dst any) bool {
	return decodeBody(c, dst, true)
}

func decodeBody(c *gin.Context, dst any, strict bool) bool {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			writeProblem(c, codeUnsupportedMediaType, "send the body as application/json", nil)
			return false
		}
	}
	var members map[string]json.RawMessage
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(&members)
	if err == nil {
		// One JSON value per body: trailing data means a client bug.
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			writeProblem(c, codeMalformedBody, "the body must contain a single JSON object", nil)
			return false
		}
		if strict {
			if problems := strictProblems(members, dst); len(problems) > 0 {
				writeProblem(c, domain.CodeValidationFailed, domain.ErrValidation.Message, problems)
				return false
			}
		}
		field, err := setExactMembers(members, dst)
		if err == nil {
			return true
		}
		var wrong wrongType
		if errors.As(err, &wrong) {
			writeProblem(c, domain.CodeValidationFailed, domain.ErrValidation.Message,
				[]FieldProblem{{Field: field, Message: "must be " + wrong.want}})
			return false
		}
		var typeError *json.UnmarshalTypeError
		if errors.As(err, &typeError) {
			writeProblem(c, domain.CodeValidationFailed, domain.ErrValidation.Message,
				[]FieldProblem{{Field: field, Message: "must be a " + typeError.Type.String()}})
			return false
		}
	}
	var (
		tooLarge  *http.MaxBytesError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		bodyTooLarge(c, tooLarge.Limit)
	case errors.Is(err, io.EOF):
		writeProblem(c, codeMalformedBody, "a JSON object body is required", nil)
	case errors.As(err, &typeError):
		writeProblem(c, codeMalformedBody, "the body must be a JSON object", nil)
	default:
		writeProblem(c, codeMalformedBody, "the body is not valid JSON", nil)
	}
	return false
}

// wrongType is the error of a member whose JSON type is not the one
// wanted, for types that encoding/json cannot name for people.
type wrongType struct{ want string }

func (e wrongType) Error() string { return "must be " + e.want }

// decodeOptionalJSON is decodeJSON for routes whose every member is
// optional: an empty body is an empty object.
func decodeOptionalJSON(c *gin.Context, dst any) bool {
	body := bufio.NewReader(c.Request.Body)
	if _, err := body.Peek(1); errors.Is(err, io.EOF) {
		return true
	}
	c.Request.Body = struct {
		io.Reader
		io.Closer
	}{body, c.Request.Body}
	return decodeJSON(c, dst)
}

// setExactMembers fills each field of the struct that dst points to from the
// member named exactly as its json tag, and on failure names the member.
// encoding/json matches names case-insensitively, so {"EMAIL": ...} would
// otherwise fill the email field, although the API documents "email" and
// ignores unknown members, and a proxy reading the body would see a different
// request than this service.
func setExactMembers(members map[string]json.RawMessage, dst any) (field string, err error) {
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		raw, ok := members[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, v.Field(i).Addr().Interface()); err != nil {
			return name, err
		}
	}
	return "", nil
}

// strictProblems names, in order, the members that the struct dst points
// to has no field for, and those that are null: in a body of changes, null
// is no value to change a field to.
func strictProblems(members map[string]json.RawMessage, dst any) []FieldProblem {
	t := reflect.TypeOf(dst).Elem()
	known := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	var problems []FieldProblem
	for _, name := range slices.Sorted(maps.Keys(members)) {
		switch {
		case !known[name]:
			problems = append(problems, FieldProblem{Field: name, Message: "is not a member of this request"})
		case string(members[name]) == "null":
			problems = append(problems, FieldProblem{Field: name, Message: "must not be null; leave it out to leave it as it is"})
		}
	}
	return problems
}
