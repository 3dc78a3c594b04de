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
	Status   string           `json:"status"`
	Database databaseResponse `json:"database"`
	Mail     mailResponse     `json:"mail"`
}

type databaseResponse struct {
	Engine         string `json:"engine"`
	Connections    int    `json:"connections"`
	InUse          int    `json:"in_use"`
	MaxConnections int    `json:"max_connections"`
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
	db, err := h.ready.Ping(ctx)
	if err != nil {
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
	c.JSON(http.StatusOK, readyResponse{Status: "ready", Database: databaseResponse{
		Engine:         db.Engine,
		Connections:    db.Connections,
		InUse:          db.InUse,
		MaxConnections: db.MaxConnections,
	}, Mail: mailResponse{
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
