// Package app reads the configuration, builds the adapters, wires them to the
// auth use cases and runs the service. It is the only package that knows
// every piece.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"authapi/adapters/hasher"
	"authapi/adapters/httpapi"
	"authapi/adapters/keyfile"
	"authapi/adapters/mailer"
	"authapi/adapters/metrics"
	"authapi/adapters/otp"
	"authapi/adapters/passwords"
	"authapi/adapters/postgres"
	"authapi/adapters/sealer"
	"authapi/adapters/sqlite"
	"authapi/adapters/token"
	"authapi/adapters/webauthn"
	"authapi/app/admin"
	"authapi/app/auth"
	"authapi/app/emails"
	"authapi/app/outbox"
	"authapi/domain"
	"authapi/ports"
)

// Server timeouts. Reads are short because every request body is small;
// shutdown waits long enough for a queued password hash to finish.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Main runs the command line in args (without the program name) with the
// environment environ ("NAME=value" entries) and returns the process exit
// code. It serves until ctx is cancelled.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	getenv := envLookup(environ)
	if len(args) > 0 && args[0] == "health" {
		return healthMain(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "keys" {
		return keysMain(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "admin-keys" {
		return operatorsMain(ctx, "admin-keys", adminKeyCommands, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "users" {
		return operatorsMain(ctx, "users", userCommands, args[1:], getenv, stdout, stderr)
	}
	command := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "migrate" || args[0] == "backup" || args[0] == "import-sqlite") {
		command, args = args[0], args[1:]
	}
	cfg, rest, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authapi:", err)
		return 2
	}
	var path string
	switch command {
	case "backup":
		if len(rest) != 1 || rest[0] == "" {
			fmt.Fprintln(stderr, "authapi: backup takes one argument, the new file to write: authapi backup [flags] PATH")
			return 2
		}
		path, rest = rest[0], nil
	case "import-sqlite":
		if len(rest) != 1 || rest[0] == "" {
			fmt.Fprintln(stderr, "authapi: import-sqlite takes one argument, the SQLite file to copy from: authapi import-sqlite [flags] PATH")
			return 2
		}
		path, rest = rest[0], nil
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "authapi: unknown command %q; the commands are %s (see authapi --help)\n", rest[0], commandNames())
		return 2
	}
	log := newLogger(cfg, stderr)
	for _, name := range unknownSettings(environ) {
		log.Warn("ignoring an environment variable that is no setting; check its spelling (authapi --help lists them)", "name", name)
	}
	switch command {
	case "migrate":
		err = migrate(ctx, cfg, log)
	case "backup":
		err = backup(ctx, cfg, path, log)
	case "import-sqlite":
		err = importSQLite(ctx, cfg, path, log)
	default:
		err = serve(ctx, cfg, log, getenv)
	}
	if err != nil {
		log.Error("authapi stopped", "error", err)
		return 1
	}
	return 0
}

// envLookup returns a getenv over environ; a later entry wins, as in the
// process environment.
func envLookup(environ []string) func(string) string {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok {
			vars[name] = value
		}
	}
	return func(name string) string { return vars[name] }
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// migrate applies pending migrations to the database of cfg and nothing
// else: it needs neither the keys nor the secret.
func migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	type migrator interface {
		Migrate(ctx context.Context) error
		Close() error
	}
	var db migrator
	var err error
	if cfg.Database.Postgres() {
		db, err = postgres.Open(ctx, cfg.Database.URL, log)
	} else {
		db, err = sqlite.Open(ctx, cfg.Database.Path, log)
	}
	if err != nil {
		return fmt.Errorf("the database of AUTH_DATABASE_URL=%s cannot be used: %w", cfg.Database, err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("database is up to date", "database", cfg.Database.String())
	return nil
}

// backup writes a consistent copy of the database to target while the
// service may be serving from it. It neither creates a missing database nor
// migrates an old one: a backup takes what is there. A PostgreSQL database
// is backed up with PostgreSQL's own tools, which do it better than any
// copy this command could make.
func backup(ctx context.Context, cfg Config, target string, log *slog.Logger) error {
	if cfg.Database.Postgres() {
		return fmt.Errorf("backup: AUTH_DATABASE_URL=%s is a PostgreSQL database, which authapi does not copy: "+
			"back it up with PostgreSQL's own tools, such as pg_dump --format=custom --file=%s (or continuous archiving for point-in-time recovery); "+
			"see the README's \"Running several replicas\"", cfg.Database, target)
	}
	if _, err := os.Stat(cfg.Database.Path); err != nil {
		return fmt.Errorf("backup: database %s: %w", cfg.Database.Path, err)
	}
	db, err := sqlite.Open(ctx, cfg.Database.Path, log)
	if err != nil {
		return err
	}
	defer db.Close()
	size, err := db.Backup(ctx, target)
	if err != nil {
		return err
	}
	log.Info("backup written", "path", target, "bytes", size, "database", cfg.Database.Path)
	return nil
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, getenv func(string) string) error {
	hashParams := hasher.DefaultParams()
	limit, fromEnv := limitMemory(getenv, hashParams, runtime.GOMAXPROCS(0))
	log.Info("memory limit", "mib", limit>>20, "from_gomemlimit", fromEnv)

	st, err := openStorage(ctx, cfg, log, rand.Reader)
	if err != nil {
		return err
	}
	defer st.Close()

	mail, err := newMailer(cfg, log)
	if err != nil {
		return err
	}
	svc, err := wire(ctx, cfg, log, st, runtimeDeps{
		mailer:     mail,
		clock:      systemClock{},
		random:     rand.Reader,
		hashParams: hashParams,
		outbox:     cfg.Outbox,
	})
	if err != nil {
		return err
	}

	// Start-up leaves garbage behind (the password dictionaries are built
	// from lists, the migrations parsed); hand its pages back to the system
	// now rather than whenever the background scavenger gets to them.
	debug.FreeOSMemory()

	// The dispatcher outlives the HTTP server by a little: it stops only
	// after the last request has been answered, so that mail queued by
	// requests in flight is handed on now rather than after a restart.
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		svc.dispatcher.Run(dispatchCtx)
	}()
	go svc.keys.run(ctx)
	go maintain(ctx, st, systemClock{}, log)
	endpoints := []endpoint{{"AUTH_ADDR", cfg.Addr, svc.handler, "authapi is serving"}}
	if svc.admin != nil {
		endpoints = append(endpoints, endpoint{"AUTH_ADMIN_ADDR", cfg.AdminAddr, svc.admin, "the admin API is serving"})
	}
	if svc.metrics != nil {
		endpoints = append(endpoints, endpoint{"AUTH_METRICS_ADDR", cfg.MetricsAddr, svc.metrics, "the metrics are served"})
	}
	serveErr := listenAndServe(ctx, cfg, endpoints, log)
	svc.dispatcher.MailQueued()
	stopDispatch()
	<-dispatched
	return serveErr
}

// runtimeDeps are the pieces that tests replace: where mail goes, the time,
// the randomness and how much work a password hash takes.
type runtimeDeps struct {
	mailer     ports.Mailer
	clock      ports.Clock
	random     io.Reader
	hashParams hasher.Params
	outbox     outbox.Config
}

// service is the wired application: the HTTP API and the mail dispatcher
// that delivers what the API queues.
type service struct {
	handler http.Handler
	// admin serves the admin API on AUTH_ADMIN_ADDR; nil when it is
	// served beside the public routes.
	admin http.Handler
	// metrics serves the metrics on AUTH_METRICS_ADDR; nil when they are
	// off or served on the public listener.
	metrics    http.Handler
	operators  *admin.Service
	dispatcher *outbox.Dispatcher
	keys       *keyManager
}

// wire builds the adapters and connects them to the use cases, on the stores
// of st.
func wire(ctx context.Context, cfg Config, log *slog.Logger, st *storage, d runtimeDeps) (service, error) {
	mails, err := loadEmails(cfg)
	if err != nil {
		return service{}, err
	}
	tokens, err := newTokens(ctx, cfg, log, st, d.random, d.clock)
	if err != nil {
		return service{}, err
	}
	codeKey, err := domain.NewCodeKey(st.secret.Derive(codeKeyPurpose))
	if err != nil {
		return service{}, err
	}
	dispatcher, err := outbox.New(st.accounts, d.mailer, d.clock, d.random, log, d.outbox)
	if err != nil {
		return service{}, err
	}
	policy, err := passwords.New(cfg.PasswordMinScore)
	if err != nil {
		return service{}, err
	}
	hashes := hasher.New(d.hashParams, d.random, runtime.GOMAXPROCS(0))
	totpSealer, err := sealer.New(st.secret.Derive(totpSealingPurpose), d.random)
	if err != nil {
		return service{}, err
	}
	relyingParty, err := webauthn.New(webauthn.Config{
		RPID:        cfg.relyingPartyID(),
		DisplayName: cfg.Brand.ProductName,
		Origins:     cfg.relyingPartyOrigins(),
	})
	if err != nil {
		return service{}, err
	}
	// Metrics are kept only when they are served: otherwise their work on
	// the request path would buy nothing.
	var observer auth.Observer
	var observeRequest func(string, string, int, time.Duration)
	var measured *metrics.Metrics
	if cfg.MetricsAddr != "" {
		measured = metrics.New()
		hashes.ObserveWaits(measured.HashWaited)
		measured.WatchHashQueue(hashes.Waiting)
		measured.WatchOutbox(dispatcher)
		measured.WatchDatabase(st.db)
		observer, observeRequest = measured, measured.ObserveRequest
	}
	auths, err := auth.NewService(auth.Deps{
		Users:    st.accounts,
		Sessions: st.accounts,
		Limiter:  st.limiter,
		Throttle: st.throttle,
		Hasher:   hashes,
		Tokens:   tokens,
		Mail:     dispatcher,
		Clock:    d.clock,
		Random:   d.random,
		Logger:   log,

		Passwords: policy,
		Audit:     st.accounts,
		Observer:  observer,

		Authenticator: otp.Authenticator{},
		Sealer:        totpSealer,
		Challenges:    st.accounts,
		Passkeys:      st.accounts,
		RelyingParty:  relyingParty,
	}, auth.Config{
		ActivationCodeTTL:   cfg.ActivationCodeTTL,
		PublicURL:           cfg.PublicURL,
		CodeKey:             codeKey,
		SessionTTL:          cfg.RefreshTokenTTL,
		RotateRefreshTokens: cfg.RefreshRotation,
		ReuseInterval:       cfg.RefreshReuseInterval,
		Limits:              cfg.Limits,

		PasswordResetTTL:          cfg.PasswordResetTTL,
		ForgotPasswordMinDuration: cfg.ForgotPasswordMinDuration,
		ConcealAccounts:           cfg.ConcealAccounts,
		Emails:                    mails,
		TOTPIssuer:                cfg.Brand.ProductName,
	})
	if err != nil {
		return service{}, err
	}
	operators, err := admin.NewService(admin.Deps{
		Users:     st.accounts,
		Sessions:  st.accounts,
		Throttle:  st.throttle,
		Audit:     st.accounts,
		AdminKeys: st.accounts,
		Clock:     d.clock,
		Random:    d.random,
		Logger:    log,
		Notices:   auths,
		Mail:      dispatcher,
	})
	if err != nil {
		return service{}, err
	}
	routes := httpapi.Config{
		Auth:   auths,
		Admin:  operators,
		Ready:  st.db,
		Mail:   dispatcher,
		Keys:   tokens,
		Logger: log,
		Random: d.random,

		TrustedProxies: cfg.TrustedProxies,
		IPv6Prefix:     cfg.IPv6Prefix,
		ObserveRequest: observeRequest,
		CORSOrigins:    cfg.CORSOrigins,
	}
	var metricsHandler http.Handler
	if measured != nil {
		metricsHandler = measured.Handler()
		if cfg.MetricsAddr == cfg.Addr {
			// The operator asked for the metrics on the public listener.
			routes.Metrics, metricsHandler = metricsHandler, nil
		}
	}
	var adminHandler http.Handler
	if cfg.AdminAddr != "" {
		adminHandler = httpapi.NewAdminRouter(routes)
		routes.Admin = nil
	}
	handler := httpapi.NewRouter(routes)
	keys := &keyManager{cfg: cfg, store: st.keys, tokens: tokens, clock: d.clock, log: log}
	return service{handler: handler, admin: adminHandler, metrics: metricsHandler, operators: operators, dispatcher: dispatcher, keys: keys}, nil
}

// loadEmails loads the email templates: the built-in ones, each replaced by
// its namesake in AUTH_EMAIL_TEMPLATES_DIR. Every template is rendered here,
// so that a mistake in one stops start-up instead of failing signups.
func loadEmails(cfg Config) (*emails.Templates, error) {
	dir := cfg.EmailTemplatesDir
	if dir == "" {
		return emails.Load(nil, cfg.Brand)
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("AUTH_EMAIL_TEMPLATES_DIR=%s does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("AUTH_EMAIL_TEMPLATES_DIR=%s: %w", dir, pathCause(err))
	case !info.IsDir():
		return nil, fmt.Errorf("AUTH_EMAIL_TEMPLATES_DIR=%s is not a directory", dir)
	}
	templates, err := emails.Load(os.DirFS(dir), cfg.Brand)
	if err != nil {
		return nil, fmt.Errorf("AUTH_EMAIL_TEMPLATES_DIR=%s: %w", dir, err)
	}
	return templates, nil
}

// pathCause keeps the cause of a failed file operation, such as "permission
// denied", without the operation and path, which the caller says.
func pathCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// newTokens loads the signing keys, creating the first on first start, and
// leaves out the keys that have retired since the last rotation.
func newTokens(ctx context.Context, cfg Config, log *slog.Logger, st *storage, random io.Reader, clock ports.Clock) (*token.Tokens, error) {
	now := clock.Now()
	keys, created, err := ensureSigningKeys(ctx, st.keys, now, random)
	if err != nil {
		return nil, fmt.Errorf("signing keys in %s: %w", st.keysAt, err)
	}
	lifetime := keyLifetime(cfg)
	infos, err := token.Inspect(keys, now, lifetime)
	if err != nil {
		return nil, fmt.Errorf("signing keys in %s: %w", st.keysAt, err)
	}
	for _, info := range infos {
		if info.State == token.KeyRetired {
			log.Warn("ignoring a retired token signing key: every token it signed has expired; the next `authapi keys rotate` removes it",
				"in", st.keysAt, "kid", info.ID, "retired_at", info.RetiresAt)
		}
	}
	live, _ := token.Prune(keys, now, lifetime)
	tokens, err := token.New(token.Config{
		Keys:       live,
		Issuer:     cfg.PublicURL.String(),
		Audience:   cfg.audience(),
		AccessTTL:  cfg.AccessTokenTTL,
		RefreshTTL: cfg.RefreshTokenTTL,
		Random:     random,
	})
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated a new token signing key; keep it to keep tokens valid across restarts",
			"in", st.keysAt, "kid", tokens.KeyID(now))
	}
	log.Info("signing tokens", "kid", tokens.KeyID(now), "verification_keys", len(live))
	return tokens, nil
}

// ensureSigningKeys returns the signing keys in store, and if there are none
// generates a first one, created and signing from now, and reports created.
// Processes that start together agree on one key: the store's updates take
// turns, and each sees the key the first made.
func ensureSigningKeys(ctx context.Context, store ports.KeyStore, now time.Time, random io.Reader) (keys []ports.SigningKey, created bool, err error) {
	keys, err = store.SigningKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, false, err
	}
	err = store.UpdateSigningKeys(ctx, func(current []ports.SigningKey) ([]ports.SigningKey, error) {
		if len(current) > 0 {
			keys = current
			return current, nil
		}
		first, err := keyfile.GenerateSigningKey(random, now, now)
		if err != nil {
			return nil, err
		}
		keys, created = []ports.SigningKey{first}, true
		return keys, nil
	})
	return keys, created, err
}

func newMailer(cfg Config, log *slog.Logger) (ports.Mailer, error) {
	if cfg.Mailer == "smtp" {
		return mailer.NewSMTP(cfg.SMTP)
	}
	log.Warn("emails are printed to this log instead of being sent (AUTH_MAILER=log); use smtp in production")
	return mailer.NewLog(log), nil
}

// endpoint is a listener of the service: the setting that gives its
// address, the address, what it serves, and what the log says once it does.
type endpoint struct {
	setting, addr string
	handler       http.Handler
	serving       string
}

// listenAndServe serves each endpoint until ctx is cancelled; then it stops
// accepting connections and lets in-flight requests finish. It listens on
// every address before serving any, so that a taken address stops start-up
// naming its setting.
func listenAndServe(ctx context.Context, cfg Config, endpoints []endpoint, log *slog.Logger) error {
	listeners := make([]net.Listener, 0, len(endpoints))
	for _, e := range endpoints {
		l, err := net.Listen("tcp", e.addr)
		if err != nil {
			for _, open := range listeners {
				open.Close()
			}
			return fmt.Errorf("cannot listen on %s=%s: %w", e.setting, e.addr, listenCause(err))
		}
		listeners = append(listeners, l)
	}
	servers := make([]*http.Server, len(endpoints))
	served := make(chan error, len(endpoints))
	for i, e := range endpoints {
		servers[i] = newServer(ctx, e.handler, log)
		go func() { served <- servers[i].Serve(listeners[i]) }()
		log.Info(e.serving, "addr", listeners[i].Addr().String())
	}
	for _, warning := range exposureWarnings(cfg, listeners[0].Addr()) {
		log.Warn(warning)
	}

	select {
	case err := <-served:
		for _, server := range servers {
			server.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	var errs []error
	for _, server := range servers {
		if err := server.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// newServer is an HTTP server with the service's timeouts and limits.
func newServer(ctx context.Context, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// exposureWarnings says what is wrong with serving the development defaults
// where others can reach them: the log mailer prints every email, codes and
// links included, to the log, and links point to localhost. A service that
// listens on loopback only is a developer's and gets no warning.
func exposureWarnings(cfg Config, listening net.Addr) []string {
	tcp, ok := listening.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return nil
	}
	var warnings []string
	if cfg.Mailer == "log" {
		warnings = append(warnings, "DEVELOPMENT MAILER ON A REACHABLE ADDRESS: AUTH_ADDR="+cfg.Addr+
			" accepts connections from other machines, and AUTH_MAILER=log prints every email, with its codes and links, to this log instead of sending it. "+
			"Anyone who can read the log can take over any account. Set AUTH_MAILER=smtp (see the README's production checklist), or listen on 127.0.0.1.")
	}
	if host := cfg.PublicURL.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
		warnings = append(warnings, "AUTH_PUBLIC_URL="+cfg.PublicURL.String()+
			" is a loopback address while AUTH_ADDR="+cfg.Addr+" is reachable from other machines: emailed links and the tokens' issuer point to localhost. Set AUTH_PUBLIC_URL to the URL users reach.")
	}
	return warnings
}

// listenCause keeps the cause of a failed listen, such as "address already
// in use", without the operation and address, which the caller says.
func listenCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err
		}
		return op.Err
	}
	return err
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
