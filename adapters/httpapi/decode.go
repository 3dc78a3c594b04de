package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

// MaxBodyBytes bounds request bodies; every request of this API fits in a
// small fraction of it.
const MaxBodyBytes = 1 << 20

// decodeJSON reads the request body into dst and reports whether it could.
// On failure it has already answered with a problem. Unknown fields are
// ignored so that clients may send more than this version understands.
func decodeJSON(c *gin.Context, dst any) bool {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			writeProblem(c, codeUnsupportedMediaType, "send the body as application/json", nil)
			return false
		}
	}
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(dst)
	if err == nil {
		// One JSON value per body: trailing data means a client bug.
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			writeProblem(c, codeMalformedBody, "the body must contain a single JSON object", nil)
			return false
		}
		return true
	}
	var (
		tooLarge  *http.MaxBytesError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(c, codeBodyTooLarge, "the body must be at most 1 MiB", nil)
	case errors.Is(err, io.EOF):
		writeProblem(c, codeMalformedBody, "a JSON object body is required", nil)
	case errors.As(err, &typeError) && typeError.Field != "":
		writeProblem(c, domain.CodeValidationFailed, domain.ErrValidation.Message,
			[]FieldProblem{{Field: typeError.Field, Message: "must be a " + typeError.Type.String()}})
	case errors.As(err, &typeError):
		writeProblem(c, codeMalformedBody, "the body must be a JSON object", nil)
	default:
		writeProblem(c, codeMalformedBody, "the body is not valid JSON", nil)
	}
	return false
}
