package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
)

type statusResponse struct {
	Status string `json:"status"`
}

func (h *handlers) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, statusResponse{Status: "ok"})
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
