package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// readyzServer answers /readyz with status and body, and records the
// requests it receives.
type readyzServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newReadyzServer(t *testing.T, status int, body string) *readyzServer {
	t.Helper()
	s := &readyzServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *readyzServer) addr() string { return s.Listener.Addr().String() }

func (s *readyzServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// closedAddr returns a loopback address that nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func runHealth(args []string, env map[string]string) (code int, stderr string) {
	var errOut bytes.Buffer
	code = healthMain(args, envOf(env), io.Discard, &errOut)
	return code, errOut.String()
}

func TestHealth(t *testing.T) {
	ready := newReadyzServer(t, http.StatusOK, `{"status":"ready"}`)
	unready := newReadyzServer(t, http.StatusServiceUnavailable,
		`{"type":"/problems/unavailable","status":503,"detail":"the database does not answer","code":"unavailable"}`)
	nothing := closedAddr(t)

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr []string // substrings of the one line on stderr; none when ready
	}{
		{name: "ready, address from AUTH_ADDR",
			env: map[string]string{"AUTH_ADDR": ready.addr()}, wantCode: 0},
		{name: "ready, --addr wins over AUTH_ADDR",
			args: []string{"--addr", ready.addr()}, env: map[string]string{"AUTH_ADDR": nothing}, wantCode: 0},
		{name: "not ready",
			env: map[string]string{"AUTH_ADDR": unready.addr()}, wantCode: 1,
			wantStderr: []string{"http://" + unready.addr() + "/readyz", "503", "the database does not answer"}},
		{name: "nothing listening",
			env: map[string]string{"AUTH_ADDR": nothing}, wantCode: 1,
			wantStderr: []string{"http://" + nothing + "/readyz"}},
		{name: "address without a port",
			env: map[string]string{"AUTH_ADDR": "localhost"}, wantCode: 1,
			wantStderr: []string{`"localhost"`, "host:port"}},
		{name: "an argument",
			args: []string{"now"}, env: map[string]string{"AUTH_ADDR": ready.addr()}, wantCode: 1,
			wantStderr: []string{`"now"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runHealth(tt.args, tt.env)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %q", code, tt.wantCode, stderr)
			}
			if len(tt.wantStderr) == 0 {
				if stderr != "" {
					t.Errorf("stderr = %q, want nothing", stderr)
				}
				return
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr = %q, want one line", stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, want)
				}
			}
		})
	}

	if got := ready.got(); len(got) != 2 || got[0] != "GET /readyz" || got[1] != "GET /readyz" {
		t.Errorf("ready server got %q, want two GET /readyz", got)
	}
}

func TestHealthReadyzURL(t *testing.T) {
	tests := []struct {
		name, addr, want string
	}{
		{"no host", ":8080", "http://127.0.0.1:8080/readyz"},
		{"every IPv4 interface", "0.0.0.0:9000", "http://127.0.0.1:9000/readyz"},
		{"every interface", "[::]:8080", "http://127.0.0.1:8080/readyz"},
		{"one address", "10.1.2.3:80", "http://10.1.2.3:80/readyz"},
		{"IPv6 loopback", "[::1]:8080", "http://[::1]:8080/readyz"},
		{"a name", "localhost:8080", "http://localhost:8080/readyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readyzURL(tt.addr)
			if err != nil || got != tt.want {
				t.Errorf("readyzURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
	for _, addr := range []string{"", "8080", ":0", ":"} {
		if got, err := readyzURL(addr); err == nil {
			t.Errorf("readyzURL(%q) = %q, want an error", addr, got)
		}
	}
}

// TestHealthAgainstTheService probes the real serve path, so that the
// command and the endpoint it asks cannot drift apart.
func TestHealthAgainstTheService(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.Buffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, nil, environ(map[string]string{
			"AUTH_ADDR":             "127.0.0.1:0",
			"AUTH_DATABASE_URL":     filepath.Join(dir, "auth.db"),
			"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "key.pem"),
			"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
		}), io.Discard, logs)
	}()
	addr := waitForAddr(t, logs, exited)

	if code, stderr := runHealth([]string{"--addr", addr}, nil); code != 0 {
		t.Errorf("health against the serving service = %d, %q; want 0", code, stderr)
	}
	cancel()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("did not shut down")
	}
	if code, _ := runHealth([]string{"--addr", addr}, nil); code != 1 {
		t.Errorf("health after shutdown = %d, want 1", code)
	}
}
