// Command authapi is a self-hosted authentication service: signup, email
// verification, login with JWTs and token refresh, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"authapi/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
