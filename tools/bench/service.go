package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// moduleRoot finds the directory of authapi's go.mod, from the working
// directory upwards, so that `go run ./tools/bench` works from anywhere inside the
// module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module authapi")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark inside the authapi module (no go.mod for authapi above the working directory)")
		}
		dir = parent
	}
}

// buildService builds the binary that ships (no race detector, no test
// hooks) into dir, so that the benchmark measures what runs in production;
// or, for CPU profiles, the same service with a profiler on a loopback
// port of its own (tools/bench/profiled).
func buildService(ctx context.Context, root, dir string, profiled bool, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "authapi")
	pkg := "."
	if profiled {
		pkg = "./tools/bench/profiled"
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the service: %w", err)
	}
	return bin, nil
}

// service is a running authapi process.
type service struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:port
	logPath string // its stdout and stderr
	exited  chan struct{}
	readyIn time.Duration // from process start to the first 200 on /readyz
	// metrics is the URL of its Prometheus metrics, when they are on.
	metrics string
	// pprof is the base URL of its profiler, in a build that has one.
	pprof string
}

// freeAddr asks the kernel for an unused loopback port and returns its
// address. Another process could take it before the service binds it; the
// service would then fail to start, which startService reports.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// benchEnv is the service's configuration: its address, the URL its users
// reach it at, its database (a SQLite file or a PostgreSQL URL) and, in
// dir, its key files. Replicas of one database are given the same public
// URL, since it is the issuer and audience of their tokens, and the same
// dir, since they need the same server secret. Every client of the benchmark is 127.0.0.1, so the per-address
// abuse limits would answer most requests 429 within a second; they are
// off, and the report says so.
func benchEnv(addr, publicURL, database, dir string) []string {
	return []string{
		"AUTH_ADDR=" + addr,
		"AUTH_PUBLIC_URL=" + publicURL,
		"AUTH_DATABASE_URL=" + database,
		"AUTH_SIGNING_KEY_FILE=" + filepath.Join(dir, "signing-key.pem"),
		"AUTH_SECRET_KEY_FILE=" + filepath.Join(dir, "secret.key"),
		"AUTH_MAILER=log",
		// JSON lines make the mailed activation codes easy to pick out.
		"AUTH_LOG_FORMAT=json",
		// Long enough that the prepared access tokens outlive any run; the
		// lifetime does not change a token's size or cost.
		"AUTH_ACCESS_TOKEN_TTL=24h",
		"AUTH_LIMIT_LOGIN_PER_IP=off",
		"AUTH_LIMIT_VERIFY_PER_IP=off",
		"AUTH_LIMIT_SIGNUP_PER_IP=off",
		"AUTH_LIMIT_SIGNUP_PER_EMAIL=off",
		"AUTH_LIMIT_RESEND_PER_IP=off",
		"AUTH_LIMIT_CODES_PER_EMAIL=off",
		"AUTH_LOGIN_FREE_FAILURES=1000",
		"AUTH_LOGIN_LOCKOUT_FAILURES=0",
	}
}

// floodEnv is the environment of the service under the flood workload: the
// abuse limits as shipped, with the load's client addresses believed from
// the loopback proxy it plays, and every collection logged, so that the live
// heap can be read off the log.
func floodEnv() []string {
	return []string{
		"AUTH_LIMIT_LOGIN_PER_IP=30/1m",
		"AUTH_LIMIT_VERIFY_PER_IP=30/1m",
		"AUTH_LIMIT_SIGNUP_PER_IP=20/1m",
		"AUTH_LIMIT_SIGNUP_PER_EMAIL=5/1h",
		"AUTH_LIMIT_RESEND_PER_IP=20/1h",
		"AUTH_LIMIT_CODES_PER_EMAIL=1/1m,5/1h",
		"AUTH_LOGIN_FREE_FAILURES=5",
		"AUTH_LOGIN_LOCKOUT_FAILURES=10",
		"AUTH_TRUSTED_PROXIES=127.0.0.1",
		"AUTH_FORGOT_PASSWORD_MIN_DURATION=0s",
		"GODEBUG=gctrace=1",
	}
}

// serviceSpec says how to start one service.
type serviceSpec struct {
	bin      string
	database string // a SQLite file or a PostgreSQL URL
	dir      string // the key files, shared by the replicas of a database
	logPath  string
	// publicURL is where users reach the service (a load balancer, for
	// replicas); empty: the service's own address.
	publicURL string
	// metrics serves Prometheus metrics on a port of their own.
	metrics bool
	// pprof serves the profiler of a build that has one (see buildService)
	// on a port of its own.
	pprof bool
	// env is more settings, as NAME=value; a later setting wins.
	env []string
}

// startService starts a service as spec says and waits until /readyz
// answers 200. On error nothing is left running.
func startService(ctx context.Context, spec serviceSpec) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(spec.logPath)
	if err != nil {
		return nil, fmt.Errorf("create the service log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor

	cmd := exec.Command(spec.bin)
	// The caller's own AUTH_ settings would change what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	publicURL := spec.publicURL
	if publicURL == "" {
		publicURL = "http://" + addr
	}
	cmd.Env = append(cmd.Env, benchEnv(addr, publicURL, spec.database, spec.dir)...)
	var metricsURL string
	if spec.metrics {
		metricsAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "AUTH_METRICS_ADDR="+metricsAddr)
		metricsURL = "http://" + metricsAddr + "/metrics"
	}
	var pprofURL string
	if spec.pprof {
		pprofAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "AUTHAPI_PPROF_ADDR="+pprofAddr)
		pprofURL = "http://" + pprofAddr
	}
	cmd.Env = append(cmd.Env, spec.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the service: %w", err)
	}
	s := &service{cmd: cmd, pid: cmd.Process.Pid, base: "http://" + addr, logPath: spec.logPath, exited: make(chan struct{}), metrics: metricsURL, pprof: pprofURL}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	if err := s.awaitReady(ctx, started); err != nil {
		s.stop()
		if tail := s.logTail(20); tail != "" {
			err = fmt.Errorf("%w; its last log lines:\n%s", err, tail)
		}
		return nil, err
	}
	return s, nil
}

// awaitReady polls /readyz every 5 ms until it answers 200, for at most 30 s.
func (s *service) awaitReady(ctx context.Context, started time.Time) error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := started.Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("poll readiness: %w", err)
		}
		if res, err := client.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				s.readyIn = time.Since(started)
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the service exited before it was ready (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return errors.New("the service was not ready within 30s")
		}
	}
}

// alive returns an error if the service has exited.
func (s *service) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("the service exited during the benchmark (%v)", s.cmd.ProcessState)
	default:
		return nil
	}
}

// stop ends the service gracefully (SIGTERM, as an orchestrator would), and
// kills it if it has not exited within 10 s. It waits for the process.
func (s *service) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(10 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// rss is the service's resident set size now, in bytes.
func (s *service) rss() (uint64, error) { return procStatus(s.pid, "VmRSS") }

// hwm is the service's peak resident set size since it started, in bytes.
func (s *service) hwm() (uint64, error) { return procStatus(s.pid, "VmHWM") }

// procStatus reads one "kB" field of /proc/pid/status, in bytes.
func procStatus(pid int, field string) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the service's memory use: %w", err)
	}
	return parseStatusField(data, field)
}

// parseStatusField finds a line such as "VmRSS:\t   12345 kB" and returns
// the value in bytes.
func parseStatusField(status []byte, field string) (uint64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected /proc status line %q", strings.TrimSpace(string(line)))
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc status line %q: %w", strings.TrimSpace(string(line)), err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// logTail returns the last n lines of the service's log.
func (s *service) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var activationCode = regexp.MustCompile(`activation code is (\d{6})`)

// mailedCodes reads the activation codes the log mailer printed, by
// recipient, the latest winning.
func (s *service) mailedCodes() (map[string]string, error) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("read the service log: %w", err)
	}
	defer f.Close()
	codes := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("activation code is")) {
			continue
		}
		var entry struct {
			To   string `json:"to"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(line, &entry); err != nil {
			continue // a line some other writer produced
		}
		if m := activationCode.FindStringSubmatch(entry.Text); m != nil {
			codes[entry.To] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the service log: %w", err)
	}
	return codes, nil
}

// awaitMailSettled waits until the outbox has no pending message, so that
// delivering the previous workload's emails does not count against the
// next one. It gives up after a minute.
func (s *service) awaitMailSettled(ctx context.Context, client *http.Client) error {
	deadline := time.Now().Add(time.Minute)
	for {
		pending, err := s.pendingMail(ctx, client)
		if err == nil && pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("wait for the outbox to drain: %w", err)
			}
			return fmt.Errorf("wait for the outbox to drain: %d emails still pending after a minute", pending)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func (s *service) pendingMail(ctx context.Context, client *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var body struct {
		Mail struct {
			Pending int `json:"pending"`
		} `json:"mail"`
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/readyz answered %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("read /readyz: %w", err)
	}
	return body.Mail.Pending, nil
}

// gcLine is the runtime's summary of a collection under GODEBUG=gctrace=1;
// the third heap size is what the collection found live.
var gcLine = regexp.MustCompile(`gc \d+ @[0-9.]+s [0-9]+%: .* (\d+)->(\d+)->(\d+) MB`)

// memoryLimitLine is the start-up line that states the service's soft
// memory limit.
var memoryLimitLine = regexp.MustCompile(`"msg":"memory limit","mib":(\d+)`)

// heapReport returns the largest live heap of the collections the service
// has logged, in MiB, how many there were, and its memory limit in MiB.
func (s *service) heapReport() (peak, collections, limit int, err error) {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read the service log: %w", err)
	}
	for _, m := range gcLine.FindAllSubmatch(data, -1) {
		live, _ := strconv.Atoi(string(m[3]))
		peak = max(peak, live)
		collections++
	}
	if m := memoryLimitLine.FindSubmatch(data); m != nil {
		limit, _ = strconv.Atoi(string(m[1]))
	}
	return peak, collections, limit, nil
}
