// Package postgres stores the service's state in a PostgreSQL database that
// any number of replicas share, through pgx's connection pool and the
// queries sqlc generates from db/postgres/queries. It implements the same
// ports as adapters/sqlite, and passes the same contract suites; beyond
// them it holds what a single process keeps in memory but a fleet must
// share: the rate-limit buckets and the signing keys. No pgx or sqlc type
// leaves the package, and PostgreSQL's errors are translated into domain
// errors.
//
// Concurrent changes of one row are serialized with row locks (SELECT ...
// FOR UPDATE) in READ COMMITTED transactions; the contract suites, not the
// engine's habits, say what is correct. Times are kept at millisecond
// precision, as with SQLite, and come back in UTC.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	postgresdb "authapi/db/postgres"
	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

// IsURL reports whether s names a PostgreSQL database rather than a SQLite
// file: a postgres:// or postgresql:// URL.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// Redact returns the URL with its password, if any, masked, for log lines
// and messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "a PostgreSQL URL that does not parse"
	}
	for _, key := range []string{"password", "sslpassword"} {
		if q := u.Query(); q.Has(key) {
			q.Set(key, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// ParseURL checks a PostgreSQL URL and returns the pool configuration it
// describes. Its errors never quote the URL, so they cannot carry the
// password.
func ParseURL(rawURL string) (*pgxpool.Config, error) {
	if !IsURL(rawURL) {
		return nil, errors.New("not a postgres:// or postgresql:// URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return nil, errors.New("the URL names no host")
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, errors.New(withoutURL(err.Error(), rawURL))
	}
	if !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	return cfg, nil
}

// withoutURL keeps what an error from pgx says about a URL without the URL
// itself: pgx quotes it, password masked as well as it can, before a colon.
func withoutURL(msg, rawURL string) string {
	if _, after, ok := strings.Cut(msg, "`: "); ok {
		msg = after
	}
	if u, err := url.Parse(rawURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// defaultMaxConns sizes the pool: a request holds a connection for a round
// trip or a short transaction, so a few per core keep the cores busy while
// leaving room for several replicas within the server's default limit of
// 100 connections.
func defaultMaxConns() int32 {
	return int32(max(8, 4*runtime.GOMAXPROCS(0)))
}

// DB is an open database: a pool of connections to one PostgreSQL database.
type DB struct {
	pool   *pgxpool.Pool
	q      *sqlcgen.Queries
	logger *slog.Logger
	// where names the database in messages, password masked.
	where string
}

// Open connects to the database at rawURL and checks that it answers.
// logger receives operational messages; nil discards them. Call Migrate
// before using a new database.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	where := Redact(rawURL)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", where, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", where, connectCause(err))
	}
	logger.InfoContext(ctx, "database opened", "engine", "postgres", "url", where, "max_connections", cfg.MaxConns)
	return &DB{pool: pool, q: sqlcgen.New(pool), logger: logger, where: where}, nil
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// errReadOnly reports a server that answers but refuses writes.
var errReadOnly = fmt.Errorf("postgres: the database is read-only: %w", domain.ErrUnavailable)

// Ping checks that the database answers and accepts writes, for readiness
// probes, and reports the pool. A standby answers reads, so the check asks
// for a transaction id, which only a primary hands out, and a primary set
// to refuse writes (default_transaction_read_only) says so.
func (db *DB) Ping(ctx context.Context) (ports.DatabaseStatus, error) {
	status := db.Stats()
	var (
		xid      int64
		readOnly string
	)
	if err := db.pool.QueryRow(ctx, "SELECT txid_current(), current_setting('transaction_read_only')").Scan(&xid, &readOnly); err != nil {
		return status, translate(ctx, "ping", err)
	}
	if readOnly != "off" {
		return status, errReadOnly
	}
	return status, nil
}

// Stats describes the pool now, without asking the server.
func (db *DB) Stats() ports.DatabaseStatus {
	st := db.pool.Stat()
	return ports.DatabaseStatus{
		Engine:         "postgres",
		Connections:    int(st.TotalConns()),
		InUse:          int(st.AcquiredConns()),
		MaxConnections: int(st.MaxConns()),
	}
}

// migrationLockID is the advisory lock that makes replicas starting
// together migrate one at a time: the first applies what is pending, the
// others find nothing left to do.
const migrationLockID = 0x61757468617069 // "authapi"

// Migrate applies every pending migration, under a session-level advisory
// lock, so that several replicas may call it at once.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(postgresdb.Migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return translate(ctx, "migrate", err)
	}
	for _, r := range results {
		db.logger.InfoContext(ctx, "database migration applied",
			"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return db.fillLoginKeys(ctx)
}

// fillLoginKeys computes the login key of the accounts from before the
// column existed, a digest that the service, not SQL, computes.
func (db *DB) fillLoginKeys(ctx context.Context) error {
	for {
		var rows []sqlcgen.UsersWithoutLoginKeyRow
		err := db.inTx(ctx, func(q *sqlcgen.Queries) error {
			var err error
			if rows, err = q.UsersWithoutLoginKey(ctx); err != nil {
				return err
			}
			for _, r := range rows {
				if err := q.SetLoginKey(ctx, sqlcgen.SetLoginKeyParams{ID: r.ID, LoginKey: loginKey("account", r.Email)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return translate(ctx, "fill in login keys", err)
		}
		if len(rows) == 0 {
			return nil
		}
	}
}

// inTx runs fn in a READ COMMITTED transaction and commits if fn returns
// nil; on an error, or a panic in fn, it rolls back.
func (db *DB) inTx(ctx context.Context, fn func(q *sqlcgen.Queries) error) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return fn(db.q.WithTx(tx)) })
}
