package mailer

import (
	"context"
	"fmt"
	"log/slog"

	"authapi/ports"
)

var _ ports.Mailer = (*LogMailer)(nil)

// LogMailer is the development mailer: instead of sending an email it writes
// the recipient, subject and plain-text body to a log, so that a developer can
// read the activation code without running a mail server. It is the only
// place where codes may be printed, so it must never be wired in production.
type LogMailer struct {
	logger *slog.Logger
}

// NewLog returns a LogMailer that writes to logger, which must not be nil.
func NewLog(logger *slog.Logger) *LogMailer {
	return &LogMailer{logger: logger}
}

// Send writes msg as one info-level log entry. It fails only if ctx is done,
// so that it behaves like a real mailer for a caller that gave up.
func (m *LogMailer) Send(ctx context.Context, msg ports.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("log email: %w", err)
	}
	// The HTML body repeats the text one, so logging it would only add noise.
	m.logger.LogAttrs(ctx, slog.LevelInfo, "email not sent: log mailer prints it instead",
		slog.String("to", msg.To.String()),
		slog.String("subject", msg.Subject),
		slog.String("text", msg.Text),
	)
	return nil
}
