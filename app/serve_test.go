package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// TestServeAndShutDown runs the real serve path: migrations, key creation,
// listening, answering, and a graceful stop when the context is cancelled.
func TestServeAndShutDown(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	env := environ(map[string]string{
		"AUTH_ADDR":             "127.0.0.1:0",
		"AUTH_DATABASE_URL":     filepath.Join(dir, "auth.db"),
		"AUTH_SIGNING_KEY_FILE": keyFile,
		"AUTH_SECRET_KEY_FILE":  filepath.Join(t.TempDir(), "secret.key"),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.Buffer{}
	exited := make(chan int, 1)
	go func() { exited <- Main(ctx, nil, env, io.Discard, logs) }()

	addr := waitForAddr(t, logs, exited)
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("readyz = %d", res.StatusCode)
	}

	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("signing key file: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "generated a new token signing key") {
		t.Errorf("key creation not logged:\n%s", logs)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit code = %d after shutdown; log:\n%s", code, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not shut down")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

var servingAddr = regexp.MustCompile(`authapi is serving"? addr=(\S+)`)

func waitForAddr(t *testing.T, logs *testkit.Buffer, exited <-chan int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingAddr.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-exited:
			t.Fatalf("exited with %d before serving:\n%s", code, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("never started serving:\n%s", logs)
	return ""
}

// TestServeWarnsWhenTheDevelopmentMailerIsReachable: the default mailer
// prints codes to the log, so serving it on an address other machines can
// reach is said loudly; on loopback it is a developer's and says nothing.
func TestServeWarnsWhenTheDevelopmentMailerIsReachable(t *testing.T) {
	for _, tt := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:0", false},
		{"0.0.0.0:0", true},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			logs := &testkit.Buffer{}
			exited := make(chan int, 1)
			go func() {
				exited <- Main(ctx, nil, environ(map[string]string{
					"AUTH_ADDR":             tt.addr,
					"AUTH_DATABASE_URL":     filepath.Join(dir, "auth.db"),
					"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "key.pem"),
					"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
				}), io.Discard, logs)
			}()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(logs.String(), "authapi is serving") {
				select {
				case code := <-exited:
					t.Fatalf("exited with %d before serving:\n%s", code, logs)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("not serving after 30s:\n%s", logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-exited
			warned := strings.Contains(logs.String(), "DEVELOPMENT MAILER ON A REACHABLE ADDRESS") &&
				strings.Contains(logs.String(), "AUTH_PUBLIC_URL=http://localhost:8080 is a loopback address")
			if warned != tt.warn {
				t.Errorf("warned = %v, want %v:\n%s", warned, tt.warn, logs)
			}
		})
	}
}
