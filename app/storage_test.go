package app

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"authapi/internal/testkit"
)

// TestReplicasMustShareTheServerSecret: a replica started on a PostgreSQL
// database with a server secret other than the one the database was set up
// with refuses to start, naming the setting, instead of failing the codes
// and keys of the others.
func TestReplicasMustShareTheServerSecret(t *testing.T) {
	url := testkit.Postgres(t)
	open := func(secretFile string) error {
		cfg := DefaultConfig()
		cfg.Database = Database{URL: url}
		cfg.SecretKeyFile = secretFile
		st, err := openStorage(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), rand.Reader)
		if err == nil {
			st.Close()
		}
		return err
	}
	first := filepath.Join(t.TempDir(), "secret.key")
	if err := open(first); err != nil {
		t.Fatalf("the first replica: %v", err)
	}
	if err := open(first); err != nil {
		t.Errorf("a replica with the same secret: %v", err)
	}
	other := filepath.Join(t.TempDir(), "secret.key")
	err := open(other)
	if err == nil || !strings.Contains(err.Error(), "AUTH_SECRET_KEY_FILE="+other) || !strings.Contains(err.Error(), "every replica needs the same file") {
		t.Errorf("a replica with another secret = %v, want a refusal naming AUTH_SECRET_KEY_FILE", err)
	}
}
