package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"authapi/adapters/keyfile"
	"authapi/adapters/token"
	"authapi/ports"
)

// keysMain runs `authapi keys rotate|list [flags]` and returns the exit
// code. Both read the same settings as the service, so that they act on the
// keys it uses and judge retirement by its token lifetimes.
func keysMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprintln(stderr, "authapi: keys takes a subcommand: authapi keys rotate [flags] or authapi keys list [flags]")
		return 2
	}
	sub := args[0]
	cfg, rest, err := parseConfig(args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authapi:", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "authapi: keys %s takes no arguments, got %q\n", sub, rest[0])
		return 2
	}
	ctx := context.Background()
	store, where, closeStore, err := openKeyStore(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "authapi: keys %s: %v\n", sub, err)
		return 1
	}
	defer closeStore()
	now := systemClock{}.Now()
	if sub == "rotate" {
		err = rotateCommand(ctx, cfg, store, where, now, stdout)
	} else {
		err = listKeys(ctx, cfg, store, now, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "authapi: keys %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// openKeyStore opens the key store the service of cfg uses: the key file
// beside a SQLite database, or the PostgreSQL database that replicas share.
// It says where the keys are, for messages.
func openKeyStore(ctx context.Context, cfg Config, logTo io.Writer) (store ports.KeyStore, where string, closeStore func(), err error) {
	if !cfg.Database.Postgres() {
		return keyfile.NewStore(cfg.SigningKeyFile), cfg.SigningKeyFile, func() {}, nil
	}
	log := newLogger(cfg, logTo)
	st, err := openStorage(ctx, cfg, log, rand.Reader)
	if err != nil {
		return nil, "", nil, err
	}
	return st.keys, st.keysAt, func() { st.Close() }, nil
}

// keyLifetime is how long an older key keeps verifying after the next key
// takes over: the longest any token it signed can stay valid.
func keyLifetime(cfg Config) time.Duration {
	return max(cfg.AccessTokenTTL, cfg.RefreshTokenTTL)
}

// errRotationNotDue stops a scheduled rotation that another process has
// already made.
var errRotationNotDue = errors.New("a key newer than the rotation interval exists")

// rotateKeys adds a new signing key to store, dropping the keys retired at
// now. The new key signs only from now plus the activation delay: until
// then it is published, so that every replica, and every resource server
// that caches the JWKS, knows it before the first token it signs arrives.
// With due set, it rotates only if the newest key is older than the
// rotation interval, so that replicas rotating on a schedule make one key
// between them; otherwise it returns errRotationNotDue.
func rotateKeys(ctx context.Context, cfg Config, store ports.KeyStore, now time.Time, due bool) (added ports.SigningKey, dropped []ports.SigningKey, err error) {
	err = store.UpdateSigningKeys(ctx, func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
		if len(keys) == 0 {
			return nil, errors.New("there is no signing key to rotate; start the service once to create the first")
		}
		newest := keys[len(keys)-1].Created
		if now.Before(newest) {
			return nil, fmt.Errorf("the newest key is dated %s, after the current time %s; check the clock",
				newest.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if due && now.Sub(newest) < cfg.KeyRotationInterval {
			return nil, errRotationNotDue
		}
		var kept []ports.SigningKey
		kept, dropped = token.Prune(keys, now, keyLifetime(cfg))
		added, err = keyfile.GenerateSigningKey(rand.Reader, now, signsFrom(now, cfg.KeyActivationDelay))
		if err != nil {
			return nil, err
		}
		return append(kept, added), nil
	})
	return added, dropped, err
}

// signsFrom is when a key made at now may sign: delay later, rounded up to
// the whole second, which is all the key stores keep. Rounding down would
// take up to a second from the time every replica has to load the key
// before tokens of it reach them.
func signsFrom(now time.Time, delay time.Duration) time.Time {
	at := now.Add(delay)
	if whole := at.Truncate(time.Second); whole.Before(at) {
		return whole.Add(time.Second)
	}
	return at
}

// rotateCommand is `authapi keys rotate`: it adds a key and says when the
// running service publishes it and signs with it.
func rotateCommand(ctx context.Context, cfg Config, store ports.KeyStore, where string, now time.Time, out io.Writer) error {
	added, dropped, err := rotateKeys(ctx, cfg, store, now, false)
	if err != nil {
		return err
	}
	kid, err := token.Thumbprint(&added.Private.PublicKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "added signing key %s to %s\n", kid, where)
	fmt.Fprintf(out, "the running service publishes it within %s (AUTH_KEYS_RELOAD_INTERVAL), or at once on SIGHUP, and signs with it from %s\n",
		formatDuration(cfg.KeysReloadInterval), added.ActiveFrom.UTC().Format(time.RFC3339))
	for _, k := range dropped {
		if kid, err := token.Thumbprint(&k.Private.PublicKey); err == nil {
			fmt.Fprintf(out, "removed retired key %s\n", kid)
		}
	}
	fmt.Fprintln(out)
	return listKeys(ctx, cfg, store, now, out)
}

// listKeys prints each key's kid, creation time and state: public facts
// only, never key material.
func listKeys(ctx context.Context, cfg Config, store ports.KeyStore, now time.Time, out io.Writer) error {
	keys, err := store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("there is no signing key yet; the service creates one when it first starts")
	}
	infos, err := token.Inspect(keys, now, keyLifetime(cfg))
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tCREATED\tSTATE")
	for _, info := range infos {
		created := "unknown"
		if !info.Created.IsZero() {
			created = info.Created.UTC().Format(time.RFC3339)
		}
		state := info.State.String()
		switch info.State {
		case token.KeyNext:
			state += ", signs from " + info.ActiveFrom.UTC().Format(time.RFC3339)
		case token.KeyVerifying:
			state += " until " + info.RetiresAt.UTC().Format(time.RFC3339)
		case token.KeyRetired:
			state += " since " + info.RetiresAt.UTC().Format(time.RFC3339) + " (the next rotation removes it)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", info.ID, created, state)
	}
	return w.Flush()
}

// keyManager keeps the token maker's keys in step with the key store while
// the service runs: it re-reads them every reload interval and on SIGHUP,
// and rotates them on the configured schedule.
type keyManager struct {
	cfg    Config
	store  ports.KeyStore
	tokens *token.Tokens
	clock  ports.Clock
	log    *slog.Logger
}

// reload reads the keys, leaves out the retired ones and hands the rest to
// the token maker. It logs a change of the set.
func (m *keyManager) reload(ctx context.Context) error {
	now := m.clock.Now()
	if m.cfg.KeyRotationInterval > 0 {
		added, _, err := rotateKeys(ctx, m.cfg, m.store, now, true)
		switch {
		case errors.Is(err, errRotationNotDue):
		case err != nil:
			m.log.ErrorContext(ctx, "scheduled key rotation failed; will retry", "error", err)
		default:
			kid, _ := token.Thumbprint(&added.Private.PublicKey)
			m.log.InfoContext(ctx, "rotated the signing keys on schedule", "kid", kid, "signs_from", added.ActiveFrom)
		}
	}
	keys, err := m.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	live, _ := token.Prune(keys, now, keyLifetime(m.cfg))
	if len(live) == 0 {
		return errors.New("the key store holds no signing key")
	}
	before := m.tokens.JWKS()
	if err := m.tokens.SetKeys(live); err != nil {
		return err
	}
	if string(before) != string(m.tokens.JWKS()) {
		m.log.InfoContext(ctx, "signing keys reloaded", "keys", len(live), "signing", m.tokens.KeyID(now))
	}
	return nil
}

// run reloads until ctx ends.
func (m *keyManager) run(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ticker := time.NewTicker(m.cfg.KeysReloadInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-hup:
			m.log.InfoContext(ctx, "SIGHUP: reloading the signing keys")
		}
		if err := m.reload(ctx); err != nil {
			m.log.ErrorContext(ctx, "reloading the signing keys failed; keeping the current ones", "error", err)
		}
	}
}
