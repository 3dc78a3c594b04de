package app

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"authapi/internal/testkit"
)

// TestImportSQLiteMovesAnInstallation moves a SQLite installation to
// PostgreSQL with `authapi import-sqlite`, then serves from PostgreSQL with
// the same key files: users notice nothing. Passwords, pending codes,
// sessions and the tokens issued before all keep working; ended sessions
// stay ended. A second import into the now non-empty database is refused.
func TestImportSQLiteMovesAnInstallation(t *testing.T) {
	dir := t.TempDir()
	files := func(c *Config) {
		c.SigningKeyFile = filepath.Join(dir, "signing.pem")
		c.SecretKeyFile = filepath.Join(dir, "secret.key")
	}
	old := newTestAPI(t, files, func(c *Config) { c.Database = Database{Path: filepath.Join(dir, "auth.db")} })
	old.activeUser(t)
	access, refresh := old.login(t)
	_, ended := old.login(t)
	wantStatus(t, old.do(t, "POST", "/logout", map[string]string{"refresh_token": ended}), http.StatusOK)
	pending := map[string]string{"email": "pending@example.com", "password": password, "first_name": "Pen", "last_name": "Ding"}
	wantStatus(t, old.do(t, "POST", "/signup", pending), http.StatusCreated)
	pendingCode := old.code(t, "pending@example.com")
	old.storage.Close()

	pgURL := testkit.Postgres(t)
	env := map[string]string{
		"AUTH_DATABASE_URL":     pgURL,
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "signing.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"import-sqlite", filepath.Join(dir, "auth.db")}, environ(env), &out, &errOut); code != 0 {
		t.Fatalf("import-sqlite: exit %d\n%s", code, &errOut)
	}
	if log := errOut.String(); !strings.Contains(log, "users=2") || !strings.Contains(log, "sessions=1") || !strings.Contains(log, "keys=1") {
		t.Errorf("the import does not report 2 users, 1 live session and 1 key:\n%s", log)
	}

	moved := newTestAPI(t, files, func(c *Config) { c.Database = Database{URL: pgURL} })
	wantStatus(t, moved.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)
	wantStatus(t, moved.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusOK)
	wantProblem(t, moved.do(t, "POST", "/refresh", map[string]string{"refresh_token": ended}), http.StatusUnauthorized, "invalid_token")
	moved.login(t)
	verify := map[string]string{"email": "pending@example.com", "activation_code": pendingCode}
	wantStatus(t, moved.do(t, "POST", "/verify", verify), http.StatusOK)

	errOut.Reset()
	if code := Main(context.Background(), []string{"import-sqlite", filepath.Join(dir, "auth.db")}, environ(env), &out, &errOut); code == 0 {
		t.Fatal("a second import into a database with accounts succeeded")
	}
	if !strings.Contains(errOut.String(), "already holds accounts") {
		t.Errorf("the refusal does not say why:\n%s", &errOut)
	}
}

// TestImportSQLiteRefusesWhatItCannotDo: the import needs a PostgreSQL
// target, an existing source and the source's signing keys, and says which
// is missing before it copies anything.
func TestImportSQLiteRefusesWhatItCannotDo(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"SQLite target", map[string]string{"AUTH_DATABASE_URL": filepath.Join(dir, "other.db")}, []string{filepath.Join(dir, "auth.db")}, "no PostgreSQL database"},
		{"missing source", map[string]string{"AUTH_DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"}, []string{filepath.Join(dir, "missing.db")}, "missing.db"},
		{"no argument", nil, nil, "takes one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(context.Background(), append([]string{"import-sqlite"}, tt.args...), environ(tt.env), &out, &errOut); code == 0 {
				t.Fatal("exit 0")
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, &errOut)
			}
		})
	}
}
