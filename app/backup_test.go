package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to read the copy as any tool would

	"authapi/internal/testkit"
)

// TestBackupCommandWhileServing runs `authapi backup` against the database of
// a running service that keeps accepting signups, and checks the copy.
func TestBackupCommandWhileServing(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "auth.db")
	env := environ(map[string]string{
		"AUTH_ADDR":             "127.0.0.1:0",
		"AUTH_DATABASE_URL":     dbPath,
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "key.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
		// The signups below all come from 127.0.0.1.
		"AUTH_LIMIT_SIGNUP_PER_IP": "off",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.Buffer{}
	exited := make(chan int, 1)
	go func() { exited <- Main(ctx, nil, env, io.Discard, logs) }()
	base := "http://" + waitForAddr(t, logs, exited)

	const before = 3
	for i := range before {
		if got := backupSignup(base, fmt.Sprintf("before-%d@example.com", i)); got != http.StatusCreated {
			t.Fatalf("signup %d = %d, want 201", i, got)
		}
	}
	// Signups go on while the backup runs.
	stop := make(chan struct{})
	started := make(chan struct{})
	var (
		wg     sync.WaitGroup
		during []int
	)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			during = append(during, backupSignup(base, fmt.Sprintf("during-%d@example.com", i)))
			if i == 0 {
				close(started)
			}
		}
	})
	<-started

	target := filepath.Join(dir, "auth-backup.db")
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"backup", target}, env, io.Discard, &stderr)
	close(stop)
	wg.Wait()
	cancel()
	if serveCode := <-exited; serveCode != 0 {
		t.Errorf("serve exited with %d; log:\n%s", serveCode, logs)
	}

	if code != 0 {
		t.Fatalf("backup exited with %d, want 0; output:\n%s", code, &stderr)
	}
	info, err := os.Stat(target)
	if err != nil {
		t.Fatalf("the backup file: %v", err)
	}
	for _, want := range []string{"backup written", target, fmt.Sprintf("bytes=%d", info.Size())} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("backup log does not mention %q:\n%s", want, &stderr)
		}
	}
	t.Logf("%d signups answered while the backup ran", len(during))
	for i, status := range during {
		if status != http.StatusCreated {
			t.Errorf("signup %d during the backup = %d, want 201", i, status)
		}
	}

	copyDB := openCopy(t, target)
	var check string
	if err := copyDB.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if check != "ok" {
		t.Errorf("integrity_check on the copy = %q, want ok", check)
	}
	for i := range before {
		email := fmt.Sprintf("before-%d@example.com", i)
		var n int
		if err := copyDB.QueryRow("SELECT count(*) FROM users WHERE email = ?", email).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("the copy has %d accounts for %s, want 1", n, email)
		}
	}
	var users, mails int
	if err := copyDB.QueryRow("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM outbox)").Scan(&users, &mails); err != nil {
		t.Fatal(err)
	}
	// Every signup queues its activation email in the same transaction.
	if users != mails {
		t.Errorf("the copy has %d accounts and %d emails, want one email per account", users, mails)
	}
}

func TestBackupCommandRefuses(t *testing.T) {
	tests := []struct {
		name       string
		args       func(dir string) []string
		setup      func(t *testing.T, dir string)
		wantCode   int
		wantStderr string
		check      func(t *testing.T, dir string)
	}{
		{
			name: "existing file",
			args: func(dir string) []string { return []string{"backup", filepath.Join(dir, "taken.db")} },
			setup: func(t *testing.T, dir string) {
				migrateAt(t, dir)
				if err := os.WriteFile(filepath.Join(dir, "taken.db"), []byte("yesterday's backup"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   1,
			wantStderr: "already exists",
			check: func(t *testing.T, dir string) {
				got, err := os.ReadFile(filepath.Join(dir, "taken.db"))
				if err != nil || string(got) != "yesterday's backup" {
					t.Errorf("existing file now %q (%v), want it untouched", got, err)
				}
			},
		},
		{
			name:       "no path",
			args:       func(string) []string { return []string{"backup"} },
			setup:      migrateAt,
			wantCode:   2,
			wantStderr: "backup takes one argument",
		},
		{
			name:       "two paths",
			args:       func(dir string) []string { return []string{"backup", dir + "/a.db", dir + "/b.db"} },
			setup:      migrateAt,
			wantCode:   2,
			wantStderr: "backup takes one argument",
			check: func(t *testing.T, dir string) {
				for _, name := range []string{"a.db", "b.db"} {
					if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %v, want no file", name, err)
					}
				}
			},
		},
		{
			name:       "no database",
			args:       func(dir string) []string { return []string{"backup", filepath.Join(dir, "copy.db")} },
			setup:      func(*testing.T, string) {},
			wantCode:   1,
			wantStderr: "auth.db",
			check: func(t *testing.T, dir string) {
				for _, name := range []string{"auth.db", "copy.db"} {
					if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %v, want no file: a backup must not create a database", name, err)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			var stderr bytes.Buffer

			code := Main(t.Context(), tt.args(dir), backupEnv(dir), io.Discard, &stderr)

			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; output:\n%s", code, tt.wantCode, &stderr)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("output does not mention %q:\n%s", tt.wantStderr, &stderr)
			}
			if tt.check != nil {
				tt.check(t, dir)
			}
		})
	}
}

// backupEnv is the environment of a service whose files are in dir.
func backupEnv(dir string) []string {
	return environ(map[string]string{
		"AUTH_DATABASE_URL":     filepath.Join(dir, "auth.db"),
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "key.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
	})
}

// migrateAt creates the service's database in dir.
func migrateAt(t *testing.T, dir string) {
	t.Helper()
	var stderr bytes.Buffer
	if code := Main(t.Context(), []string{"migrate"}, backupEnv(dir), io.Discard, &stderr); code != 0 {
		t.Fatalf("migrate exited with %d:\n%s", code, &stderr)
	}
}

// backupSignup signs up email and returns the status, or 0 if the request
// failed.
func backupSignup(base, email string) int {
	body := fmt.Sprintf(`{"email":%q,"password":"Vivid-Harbor-Lantern-7319","first_name":"Ada","last_name":"Lovelace"}`, email)
	res, err := http.Post(base+"/signup", "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// openCopy opens a backup file read-only, closing it when the test ends.
func openCopy(t *testing.T, path string) *sql.DB {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	deadline, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(deadline); err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	return db
}
