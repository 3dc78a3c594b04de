package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Build compiles authapi, once per test process, into a temporary directory
// that RemoveBuild deletes, and returns the executable's path; it fails tb if
// the build fails.
//
// The binary is built without -race even when the tests run with it: it is
// what ships, and it starts in a fraction of the time.
func Build(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "authapi-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "authapi")
		// By import path, so that it builds from any directory of the module.
		cmd := exec.Command("go", "build", "-o", build.path, "authapi")
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatalf("build authapi: %v", build.err)
	}
	return build.path
}

// RemoveBuild deletes what Build made; a package's TestMain calls it once
// its tests have run.
func RemoveBuild() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Options configure a process that Start runs.
type Options struct {
	// Dir holds the database, the token signing key and the server secret,
	// as auth.db, signing-key.pem and secret.key; a new temporary directory
	// of the test's if empty.
	Dir string
	// Env is more settings, as NAME=value, after Start's own: where a name
	// appears twice, the later setting wins.
	Env []string
	// ReadyTimeout bounds the wait for the first 200 on /readyz; 30 seconds
	// if zero.
	ReadyTimeout time.Duration
}

// Process is a running authapi binary.
type Process struct {
	// Addr is the host:port it serves on.
	Addr string
	// URL is http://Addr.
	URL string

	cmd    *exec.Cmd
	log    *Buffer
	exited chan struct{} // closed once the process has been waited for
}

var servingLine = regexp.MustCompile(`"msg":"authapi is serving","addr":"([^"]+)"`)

// Start runs the built binary on a free loopback port and waits until /readyz
// answers 200. The process is killed when the test ends, whatever happened;
// its log is shown if the test failed, and the test fails if the log
// mentions a panic. Under -short, Start skips the test.
//
// The process sees no environment but the settings of a fresh service on
// opts.Dir, with JSON logs, and opts.Env.
func Start(t *testing.T, opts Options) *Process {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the built binary; skipped with -short")
	}
	binary := Build(t)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	p := &Process{log: &Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary)
	p.cmd.Env = append([]string{
		"AUTH_ADDR=127.0.0.1:0",
		"AUTH_DATABASE_URL=" + filepath.Join(opts.Dir, "auth.db"),
		"AUTH_SIGNING_KEY_FILE=" + filepath.Join(opts.Dir, "signing-key.pem"),
		"AUTH_SECRET_KEY_FILE=" + filepath.Join(opts.Dir, "secret.key"),
		// Start reads the address from the log.
		"AUTH_LOG_FORMAT=json",
	}, opts.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start authapi: %v", err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Kill()
		if strings.Contains(p.log.String(), "panic") {
			t.Errorf("the service log mentions a panic:\n%s", p.log)
		} else if t.Failed() {
			t.Logf("service log:\n%s", p.log)
		}
	})

	deadline := time.Now().Add(opts.ReadyTimeout)
	for p.Addr == "" {
		if m := servingLine.FindStringSubmatch(p.log.String()); m != nil {
			p.Addr = m[1]
			break
		}
		p.checkAlive(t, deadline)
	}
	p.URL = "http://" + p.Addr
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		res, err := client.Get(p.URL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		p.checkAlive(t, deadline)
	}
}

// checkAlive fails the test if the process exited or the deadline passed, and
// otherwise pauses briefly before the caller looks again.
func (p *Process) checkAlive(t *testing.T, deadline time.Time) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("authapi exited (%v) before it was ready:\n%s", p.cmd.ProcessState, p.log)
	case <-time.After(10 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		t.Fatalf("authapi was not ready in time:\n%s", p.log)
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal authapi: %v", err)
	}
}

// Kill sends SIGKILL, unless the process has exited, and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// Stop sends SIGTERM and fails the test unless the process then exits 0.
func (p *Process) Stop(t *testing.T) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	if state := p.Wait(t); state.ExitCode() != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", state.ExitCode())
	}
}

// Wait waits up to a minute for the process to exit on its own and returns
// how it ended.
func (p *Process) Wait(t *testing.T) *os.ProcessState {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	case <-time.After(time.Minute):
		t.Fatalf("authapi did not exit:\n%s", p.log)
		return nil
	}
}

// Log returns everything the process has written to stdout and stderr.
func (p *Process) Log() string {
	return p.log.String()
}

// Messages returns the msg of each JSON log line so far, in order.
func (p *Process) Messages() []string {
	var msgs []string
	for line := range strings.Lines(p.log.String()) {
		var entry struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			continue // not a log record, or the last line, still incomplete
		}
		msgs = append(msgs, entry.Msg)
	}
	return msgs
}

// WaitLogged waits up to 30 seconds for a log line whose message is msg.
func (p *Process) WaitLogged(t *testing.T, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(p.Messages(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("the service never logged %q:\n%s", msg, p.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
