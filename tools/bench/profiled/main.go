// Command profiled is authapi with Go's profiler served on a loopback
// address of its own, for the load benchmark's -cpuprofile: the service
// that ships has no profiler, and no build of it serves one on its public
// listener. AUTHAPI_PPROF_ADDR (host:port) names the address; without it
// this is the service as built from the module root.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"
	"time"

	"authapi/app"
)

// pprofAddrEnv names the profiler's address. It does not begin with AUTH_,
// the service's settings, so the service does not warn about it.
const pprofAddrEnv = "AUTHAPI_PPROF_ADDR"

func main() {
	if addr := os.Getenv(pprofAddrEnv); addr != "" {
		if err := serveProfiler(addr); err != nil {
			fmt.Fprintf(os.Stderr, "profiled: %s=%s: %v\n", pprofAddrEnv, addr, err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// serveProfiler serves http.DefaultServeMux, where net/http/pprof put its
// handlers, on addr, which must be a loopback address.
func serveProfiler(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("the profiler listens on loopback addresses only")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return nil
}
