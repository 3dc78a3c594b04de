//go:build linux

package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// TestStartupErrorsNameTheSetting: a service that cannot start says which
// setting is at fault, what it was set to and why, in words a person can
// act on, and never suggests that trying again later would help.
func TestStartupErrorsNameTheSetting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary; skipped with -short")
	}
	binary := testkit.Build(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	tests := []struct {
		name    string
		prepare func(t *testing.T, dir, binary string) (env []string, cmd func(*exec.Cmd))
		want    []string
	}{
		{"missing directory", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			return []string{"AUTH_DATABASE_URL=" + filepath.Join(dir, "missing", "auth.db")}, nil
		}, []string{"AUTH_DATABASE_URL=", "missing/auth.db", "does not exist"}},
		{"directory others own", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			locked := filepath.Join(dir, "locked")
			if err := os.Mkdir(locked, 0o755); err != nil {
				t.Fatal(err)
			}
			return []string{"AUTH_DATABASE_URL=" + filepath.Join(locked, "auth.db")}, asAnotherUser(t, locked, binary)
		}, []string{"AUTH_DATABASE_URL=", "locked/auth.db", "permission denied"}},
		{"read-only file system", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount("tmpfs", ro, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
				t.Skipf("cannot mount a read-only file system here: %v", err)
			}
			t.Cleanup(func() { syscall.Unmount(ro, 0) })
			return []string{"AUTH_DATABASE_URL=" + filepath.Join(ro, "auth.db")}, nil
		}, []string{"AUTH_DATABASE_URL=", "ro/auth.db", "read-only file system"}},
		{"port in use", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			return []string{"AUTH_ADDR=" + held.Addr().String(), "AUTH_DATABASE_URL=" + filepath.Join(dir, "auth.db")}, nil
		}, []string{"AUTH_ADDR=" + held.Addr().String(), "address already in use"}},
		// A PostgreSQL URL is checked before anything starts, and its
		// password never shows.
		{"PostgreSQL URL that does not parse", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			return []string{"AUTH_DATABASE_URL=postgres://authapi:" + dbPassword + "@db.internal:notaport/authapi"}, nil
		}, []string{"AUTH_DATABASE_URL", "not a usable PostgreSQL URL"}},
		{"PostgreSQL URL without a host", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			return []string{"AUTH_DATABASE_URL=postgres://authapi:" + dbPassword + "@/authapi"}, nil
		}, []string{"AUTH_DATABASE_URL", "names no host"}},
		{"PostgreSQL server that does not answer", func(t *testing.T, dir, binary string) ([]string, func(*exec.Cmd)) {
			return []string{"AUTH_DATABASE_URL=postgres://authapi:" + dbPassword + "@127.0.0.1:" + closedPort(t) + "/authapi?connect_timeout=5"},
				nil
		}, []string{"AUTH_DATABASE_URL=postgres://authapi:xxxxx@127.0.0.1:", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			env, adjust := tt.prepare(t, dir, binary)
			cmd := exec.Command(binary)
			cmd.Env = append([]string{
				"AUTH_ADDR=127.0.0.1:0",
				"AUTH_SIGNING_KEY_FILE=" + filepath.Join(dir, "signing-key.pem"),
				"AUTH_SECRET_KEY_FILE=" + filepath.Join(dir, "secret.key"),
			}, env...)
			if adjust != nil {
				adjust(cmd)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("the service exited 0:\n%s", &stderr)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the service did not stop:\n%s", &stderr)
			}
			// The error: the ERROR line of the log, or the one line a
			// setting that does not parse gets before any log starts.
			var line string
			for l := range strings.Lines(stderr.String()) {
				if strings.Contains(l, "level=ERROR") || strings.HasPrefix(l, "authapi: ") {
					line = l
				}
			}
			if strings.Contains(stderr.String(), dbPassword) {
				t.Errorf("the database password shows:\n%s", &stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(line, want) {
					t.Errorf("the error line lacks %q:\n%s", want, &stderr)
				}
			}
			for _, wrong := range []string{"try again", "temporarily unavailable", "(14)"} {
				if strings.Contains(line, wrong) {
					t.Errorf("the error line says %q, which does not help with a setting:\n%s", wrong, line)
				}
			}
		})
	}
}

// dbPassword is the password in the PostgreSQL URLs above, which must never
// be shown.
const dbPassword = "s3cret-Tr0mbone"

// closedPort returns a loopback port on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// asAnotherUser runs the command as a user other than the owner of dir, so
// that dir's mode refuses it. As root, whom modes do not stop, that is
// nobody; otherwise dir is made read-only to its owner.
func asAnotherUser(t *testing.T, dir, binary string) func(*exec.Cmd) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return nil
	}
	// nobody must reach the binary and the directories, which the test's
	// own are not open to: open them, and run a copy of the binary there.
	parent := filepath.Dir(dir)
	for _, d := range []string{parent, filepath.Dir(parent)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(parent)); d != "/"; d = filepath.Dir(d) {
		if info, err := os.Stat(d); err != nil || info.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not open to other users, so nobody could not run there", d)
		}
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(parent, "authapi")
	if err := os.WriteFile(copied, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(cmd *exec.Cmd) {
		cmd.Path, cmd.Args[0] = copied, copied
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
}
