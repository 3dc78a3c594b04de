package app

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthTimeout bounds the whole probe: connecting, asking and reading the
// answer. It is shorter than a container runtime's usual check timeout, so
// that a hung service is reported by this command rather than killed.
const healthTimeout = 3 * time.Second

// healthMain runs `authapi health [--addr host:port]`: it asks the service
// listening on AUTH_ADDR whether it is ready and exits 0 when /readyz
// answers 200, 1 otherwise with the reason on one line of stderr. It lets
// an image with no shell or curl declare a health check. Every failure,
// usage errors included, exits 1, because container runtimes reserve 2.
func healthMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	addr, ok := lookup(getenv, "AUTH_ADDR")
	if !ok {
		addr = DefaultConfig().Addr
	}
	fs := flag.NewFlagSet("authapi health", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&addr, "addr", addr, "address the service listens on (env AUTH_ADDR)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: authapi health [--addr host:port]\n\nExits 0 when the service's GET /readyz answers 200, 1 otherwise.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "authapi: health:", err)
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authapi: health takes no arguments, got %q\n", fs.Arg(0))
		return 1
	}
	target, err := readyzURL(addr)
	if err != nil {
		fmt.Fprintln(stderr, "authapi: health:", err)
		return 1
	}
	if err := probe(target); err != nil {
		fmt.Fprintln(stderr, "authapi: health:", err)
		return 1
	}
	return 0
}

// readyzURL turns the address the service listens on into the URL of its
// readiness endpoint. A listener on every interface (no host, 0.0.0.0 or
// ::) is reached through 127.0.0.1: the probe runs beside the service.
func readyzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port, such as :8080 or 127.0.0.1:8080", addr)
	}
	number, err := net.LookupPort("tcp", port)
	if err != nil || number == 0 {
		return "", fmt.Errorf("address %q: want a fixed port to probe", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s/readyz", net.JoinHostPort(host, fmt.Sprint(number))), nil
}

// probe GETs target and returns nil only for a 200 answer. It ignores any
// proxy settings in the environment: the service is on this machine.
func probe(target string) error {
	client := &http.Client{
		Timeout:   healthTimeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	res, err := client.Get(target)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return nil
	}
	// The problem document's detail says why, such as "the database does
	// not answer"; a body that is not one just goes unquoted.
	var problem struct {
		Detail string `json:"detail"`
	}
	if json.NewDecoder(io.LimitReader(res.Body, 4<<10)).Decode(&problem) == nil && problem.Detail != "" {
		return fmt.Errorf("%s answered %s: %s", target, res.Status, problem.Detail)
	}
	return fmt.Errorf("%s answered %s", target, res.Status)
}
