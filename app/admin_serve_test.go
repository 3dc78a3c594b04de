package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/internal/testkit"
)

var adminServingAddr = regexp.MustCompile(`the admin API is serving"? addr=(\S+)`)

// TestServeAdminAPIOnItsOwnListener runs the real serve path with
// AUTH_ADMIN_ADDR: the admin routes answer on that listener and not on the
// public one, which keeps its own routes to itself, and a key made with the
// command line while the service runs works at once.
func TestServeAdminAPIOnItsOwnListener(t *testing.T) {
	dir := t.TempDir()
	db := testDatabase(t, dir)
	settings := map[string]string{
		"AUTH_ADDR":             "127.0.0.1:0",
		"AUTH_ADMIN_ADDR":       "127.0.0.1:0",
		"AUTH_DATABASE_URL":     db.Path,
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "signing-key.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
	}
	if db.Postgres() {
		settings["AUTH_DATABASE_URL"] = db.URL
	}
	env := environ(settings)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.Buffer{}
	exited := make(chan int, 1)
	go func() { exited <- Main(ctx, nil, env, io.Discard, logs) }()

	public := "http://" + waitForAddr(t, logs, exited)
	// The listeners are logged one after the other.
	m := adminServingAddr.FindStringSubmatch(logs.String())
	for deadline := time.Now().Add(10 * time.Second); m == nil; m = adminServingAddr.FindStringSubmatch(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the admin listener's address is not logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	admin := "http://" + m[1]
	if admin == public {
		t.Fatal("the admin API listens on the public address")
	}

	var out, errOut bytes.Buffer
	if code := Main(ctx, []string{"admin-keys", "create", adminKeyName}, env, &out, &errOut); code != 0 {
		t.Fatalf("admin-keys create exited %d: %s", code, errOut.String())
	}
	key := strings.TrimSpace(strings.SplitN(out.String(), "\n", 2)[0])

	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(body, &p)
		return res.StatusCode, p.Code
	}
	tests := []struct {
		name, method, url, token string
		status                   int
		code                     string
	}{
		{"the admin API with the key", "GET", admin + "/admin/users", key, 200, ""},
		{"the audit log with the key", "GET", admin + "/admin/audit?event=admin_key_created", key, 200, ""},
		{"the admin API without a key", "GET", admin + "/admin/users", "", 401, "invalid_admin_key"},
		{"the admin API on the public listener", "GET", public + "/admin/users", key, 404, "not_found"},
		{"the audit log on the public listener", "GET", public + "/admin/audit", key, 404, "not_found"},
		{"a public route on the admin listener", "POST", admin + "/login", "", 404, "not_found"},
		{"the documents on the admin listener", "GET", admin + "/openapi.json", "", 404, "not_found"},
		{"liveness on the admin listener", "GET", admin + "/healthz", "", 200, ""},
		{"readiness on the admin listener", "GET", admin + "/readyz", "", 200, ""},
		{"readiness on the public listener", "GET", public + "/readyz", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, code := call(tt.method, tt.url, tt.token); status != tt.status || code != tt.code {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.url, status, code, tt.status, tt.code)
			}
		})
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit code = %d after shutdown; log:\n%s", code, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not shut down")
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), strings.TrimPrefix(key, "authapi_admin_")) {
		t.Error("the admin key appears in the service's log")
	}
}
