package mailer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"authapi/adapters/mailer"
	"authapi/ports"
)

func activationMessage() ports.Message {
	return ports.Message{
		ID:      "01936f5c-7a2e-7c1d-9f3b-2a6e8d4c1b0f",
		To:      "zoe@example.com",
		Subject: "Welcome, Zoë",
		Text:    "Your activation code is 493817.\nOr open https://auth.example.com/activate?code=493817\n",
		HTML:    "<p>Your activation code is <b>493817</b>.</p>",
	}
}

func TestLogMailerSendWritesOneRecord(t *testing.T) {
	msg := activationMessage()
	tests := []struct {
		name       string
		newHandler func(*bytes.Buffer) slog.Handler
		// record decodes the only line the handler wrote.
		record func(t *testing.T, line string) map[string]string
	}{
		{
			name:       "json",
			newHandler: func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			record: func(t *testing.T, line string) map[string]string {
				t.Helper()
				var got map[string]string
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("decode JSON record %q: %v", line, err)
				}
				return got
			},
		},
		{
			name:       "text",
			newHandler: func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			record: func(t *testing.T, line string) map[string]string {
				t.Helper()
				return parseTextRecord(t, line)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			m := mailer.NewLog(slog.New(tt.newHandler(&buf)))

			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf.String())
			}
			got := tt.record(t, lines[0])
			want := map[string]string{
				"level":   "INFO",
				"msg":     "email not sent: log mailer prints it instead",
				"to":      msg.To.String(),
				"subject": msg.Subject,
				"text":    msg.Text,
			}
			for key, wantValue := range want {
				if got[key] != wantValue {
					t.Errorf("record[%q] = %q, want %q", key, got[key], wantValue)
				}
			}
		})
	}
}

func TestLogMailerSendFailsWhenContextIsDone(t *testing.T) {
	var buf bytes.Buffer
	m := mailer.NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := m.Send(ctx, activationMessage())

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send error = %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged %q after the context was done, want nothing", buf.String())
	}
}

// parseTextRecord splits one slog text line into its key=value pairs,
// unquoting quoted values.
func parseTextRecord(t *testing.T, line string) map[string]string {
	t.Helper()
	got := map[string]string{}
	rest := line
	for rest != "" {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("malformed text record %q", line)
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			quoted, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("find quoted value of %q in %q: %v", key, line, err)
			}
			if value, err = strconv.Unquote(quoted); err != nil {
				t.Fatalf("unquote value of %q in %q: %v", key, line, err)
			}
			rest = after[len(quoted):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		got[key] = value
		rest = strings.TrimPrefix(rest, " ")
	}
	return got
}
