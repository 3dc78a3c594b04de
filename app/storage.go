package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"authapi/adapters/keyfile"
	"authapi/adapters/postgres"
	"authapi/adapters/ratelimit"
	"authapi/adapters/sqlite"
	"authapi/ports"
)

// database is an open database of either engine.
type database interface {
	Ping(ctx context.Context) (ports.DatabaseStatus, error)
	Stats() ports.DatabaseStatus
	Close() error
}

// accountStore is what a storage adapter offers beside the throttle: the
// ports that share its transactions.
type accountStore interface {
	ports.UserStore
	ports.SessionStore
	ports.Outbox
	ports.AuditLog
	ports.AdminKeyStore
	ports.ChallengeStore
	ports.PasskeyStore
	CountUsers(ctx context.Context) (int, error)
}

// pruner forgets state that no longer counts, such as the runs of failed
// logins of sources idle for a day.
type pruner struct {
	what  string
	prune func(ctx context.Context, now time.Time) (int, error)
}

// storage is where the service keeps its state: one database, and the
// stores of its engine. With SQLite, the rate limits live in memory and the
// signing keys in their file; with PostgreSQL, which replicas share, both
// live in the database too.
type storage struct {
	db       database
	accounts accountStore
	throttle ports.LoginThrottle
	limiter  ports.RateLimiter
	keys     ports.KeyStore
	// keysAt names where the signing keys are, for messages.
	keysAt string
	// secret is the server secret, from which the keys of one-time codes
	// and, with PostgreSQL, of the sealed signing keys derive.
	secret  keyfile.Secret
	pruners []pruner
}

// Close closes the database.
func (s *storage) Close() error { return s.db.Close() }

// Purposes of the keys derived from the server secret. Each is part of what
// is stored under its key: never change one.
const (
	// codeKeyPurpose is the key that one-time codes and link tokens are
	// hashed under.
	codeKeyPurpose = "authapi one-time code hash v1"
	// keyEncryptionPurpose is the key that seals the signing keys in a
	// PostgreSQL database.
	keyEncryptionPurpose = "authapi signing key encryption v1"
	// totpSealingPurpose is the key that seals the secrets of
	// authenticator apps in the database.
	totpSealingPurpose = "authapi totp secret sealing v1"
	// secretCheckPurpose is the digest by which replicas find out that
	// they hold the same server secret.
	secretCheckPurpose = "authapi shared secret check v1"
)

// loadSecret reads the server secret, creating the file on first start.
func loadSecret(cfg Config, log *slog.Logger, random io.Reader) (keyfile.Secret, error) {
	secret, created, err := keyfile.LoadOrCreateSecret(cfg.SecretKeyFile, random)
	if err != nil {
		return keyfile.Secret{}, fmt.Errorf("AUTH_SECRET_KEY_FILE=%s: %w", cfg.SecretKeyFile, err)
	}
	if created {
		log.Info("generated the server secret; keep this file: without it, codes already emailed stop working",
			"path", cfg.SecretKeyFile)
	}
	return secret, nil
}

// openStorage opens the database of cfg, applies pending migrations, reads
// the server secret (creating it on first start) and builds the stores of
// the engine. With PostgreSQL it also checks that this replica holds the
// server secret the others hold.
func openStorage(ctx context.Context, cfg Config, log *slog.Logger, random io.Reader) (*storage, error) {
	if cfg.Database.Postgres() {
		return openPostgres(ctx, cfg, log, random)
	}
	return openSQLite(ctx, cfg, log, random)
}

func openSQLite(ctx context.Context, cfg Config, log *slog.Logger, random io.Reader) (*storage, error) {
	db, err := sqlite.Open(ctx, cfg.Database.Path, log)
	if err != nil {
		return nil, fmt.Errorf("the database of AUTH_DATABASE_URL=%s cannot be used: %w", cfg.Database, err)
	}
	if err := db.Migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	store, err := sqlite.NewStore(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	// Read after the database opens, so that a database that cannot be is
	// the error a new installation sees first.
	secret, err := loadSecret(cfg, log, random)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	throttle := sqlite.NewThrottle(db)
	return &storage{
		db:       db,
		accounts: store,
		throttle: throttle,
		limiter:  ratelimit.NewMemory(cfg.LimiterMaxKeys, log),
		keys:     keyfile.NewStore(cfg.SigningKeyFile),
		keysAt:   cfg.SigningKeyFile,
		secret:   secret,
		pruners: []pruner{
			{"runs of failed logins", throttle.Prune},
			{"expired challenges", store.PruneChallenges},
			auditPruner(store, cfg.AuditRetention),
		},
	}, nil
}

func openPostgres(ctx context.Context, cfg Config, log *slog.Logger, random io.Reader) (*storage, error) {
	db, err := postgres.Open(ctx, cfg.Database.URL, log)
	if err != nil {
		return nil, fmt.Errorf("the database of AUTH_DATABASE_URL=%s cannot be used: %w", cfg.Database, err)
	}
	fail := func(err error) (*storage, error) { return nil, errors.Join(err, db.Close()) }
	if err := db.Migrate(ctx); err != nil {
		return fail(err)
	}
	secret, err := loadSecret(cfg, log, random)
	if err != nil {
		return fail(err)
	}
	err = db.CheckSharedSecret(ctx, "server secret", secret.Derive(secretCheckPurpose))
	if errors.Is(err, postgres.ErrSecretDiffers) {
		return fail(fmt.Errorf("the server secret of AUTH_SECRET_KEY_FILE=%s differs from the one the database was set up with: "+
			"every replica needs the same file (copy it from a running replica), or codes and signing keys would fail on all but one", cfg.SecretKeyFile))
	}
	if err != nil {
		return fail(err)
	}
	keys, err := postgres.NewKeyStore(db, secret.Derive(keyEncryptionPurpose), random)
	if err != nil {
		return fail(err)
	}
	throttle, limiter, store := postgres.NewThrottle(db), postgres.NewLimiter(db), postgres.NewStore(db)
	return &storage{
		db:       db,
		accounts: store,
		throttle: throttle,
		limiter:  limiter,
		keys:     keys,
		keysAt:   "the database",
		secret:   secret,
		pruners: []pruner{
			{"runs of failed logins", throttle.Prune},
			{"rate-limit buckets", limiter.Prune},
			{"expired challenges", store.PruneChallenges},
			auditPruner(store, cfg.AuditRetention),
		},
	}, nil
}

// maintenanceInterval is how often state that no longer counts is pruned.
const maintenanceInterval = time.Hour

// auditPruner forgets the audit events older than retention.
func auditPruner(log ports.AuditLog, retention time.Duration) pruner {
	return pruner{"audit events past AUTH_AUDIT_RETENTION", func(ctx context.Context, now time.Time) (int, error) {
		return log.PruneAudit(ctx, now.Add(-retention))
	}}
}

// maintain prunes the storage every maintenanceInterval until ctx ends.
// Several replicas pruning the same rows is harmless: each deletes what is
// left.
func maintain(ctx context.Context, st *storage, clock ports.Clock, log *slog.Logger) {
	ticker := time.NewTicker(maintenanceInterval)
	defer ticker.Stop()
	for {
		for _, p := range st.pruners {
			n, err := p.prune(ctx, clock.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				log.WarnContext(ctx, "pruning failed; will retry", "what", p.what, "error", err)
			case n > 0:
				log.InfoContext(ctx, "pruned state that no longer counts", "what", p.what, "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
