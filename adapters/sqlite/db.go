// Package sqlite stores accounts in a SQLite database file, through the
// pure-Go modernc.org/sqlite driver and the queries sqlc generates from
// db/sqlite/queries. It implements ports.UserStore; no SQLite or sqlc type leaves
// the package, and SQLite's errors are translated into domain errors.
//
// Times are stored as unix milliseconds in UTC, so they round-trip at
// millisecond precision and come back in UTC.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	sqlitedb "authapi/db/sqlite"
	"authapi/db/sqlite/sqlcgen"
	"authapi/ports"
)

// busyTimeoutMillis is how long a connection waits for another one (in this
// or another process) to release a lock before failing with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// DB is an open database: one connection that performs every write, and a
// pool of read-only connections. SQLite allows one writer at a time; funnelling
// writes through a single connection makes them queue in Go instead of failing
// with SQLITE_BUSY, while WAL mode lets the readers proceed alongside.
//
// A read succeeds on a full disk or a file gone read-only, so DB also
// remembers when a write failed because the file could not be written: until
// a write probe succeeds, Ping reports the database as unavailable.
type DB struct {
	path   string
	writer *writePool
	reader *sql.DB
	logger *slog.Logger
	// writesFailing is set when a write fails for want of a writable file
	// and cleared when a write probe succeeds.
	writesFailing atomic.Bool
}

// Open opens (creating if needed) the database file at path. The directory
// holding it must exist. logger receives operational messages; nil discards
// them. Call Migrate before using a new database.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("sqlite: open: the database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := checkWritable(abs); err != nil {
		return nil, err
	}
	if err := keepPrivate(abs, logger); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	writer, err := openPool(ctx, abs, writerDSN(abs), 1)
	if err != nil {
		return nil, err
	}
	// WAL is what lets readers run beside the writer; a file system that
	// cannot do it silently keeps the old journal mode, so insist.
	var mode string
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		writer.Close()
		return nil, translate(ctx, "open "+abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", abs, mode)
	}

	reader, err := openPool(ctx, abs, readerDSN(abs), max(4, 2*runtime.GOMAXPROCS(0)))
	if err != nil {
		writer.Close()
		return nil, err
	}
	logger.InfoContext(ctx, "database opened", "path", abs)
	db := &DB{path: abs, reader: reader, logger: logger}
	db.writer = &writePool{DB: writer, db: db}
	return db, nil
}

// fileMode is the mode of the database and its -wal and -shm files: they
// hold password hashes and the codes of unsent mail.
const fileMode = 0o600

// keepPrivate makes the database at path readable by its owner only,
// whatever the umask. A new database is created empty with fileMode before
// SQLite opens it, and SQLite gives the -wal and -shm files it creates the
// mode of the database file. Files left readable by others, by an earlier
// version or by hand, are tightened.
func keepPrivate(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm()&^fileMode == 0 {
			continue
		}
		if err := os.Chmod(name, fileMode); err != nil {
			return fmt.Errorf("%s is readable by others (mode %v) and cannot be made private: %w", name, info.Mode().Perm(), err)
		}
		logger.Warn("the database file was readable by others; made it private to its owner",
			"path", name, "was", info.Mode().Perm().String())
	}
	return nil
}

// openPool opens a connection pool of at most conns connections and checks
// that it can reach the file.
func openPool(ctx context.Context, path, dsn string, conns int) (*sql.DB, error) {
	pool, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		// Not translated: opening is not a request that a retry may help.
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	return pool, nil
}

// checkWritable says, in words, why the database at path could not be
// created or written: SQLite would only report "unable to open database
// file". The database lives beside its -wal and -shm files, which SQLite
// creates as it goes, so the directory must be writable too.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: open %s: the directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("sqlite: open %s: %s: %w", path, dir, describe(err))
	case !info.IsDir():
		return fmt.Errorf("sqlite: open %s: %s is not a directory", path, dir)
	}
	probe, err := os.CreateTemp(dir, ".authapi-write-check-*")
	if err != nil {
		return fmt.Errorf("sqlite: open %s: cannot create files in %s: %w", path, dir, describe(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: open %s: cannot write the file: %w", path, describe(err))
	}
	return nil
}

// describe keeps only the cause of a file system error, such as
// "permission denied" or "read-only file system": the path is said already.
func describe(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writerDSN configures the writing connection.
//   - WAL journal: readers see the last commit while a write is in progress.
//   - synchronous FULL: every commit is fsynced to the WAL before it is
//     acknowledged, so an account the API reported as created survives power
//     loss, not only a crash of the process (NORMAL would risk losing the last
//     commits on power loss).
//   - _txlock=immediate: a write transaction takes the write lock at BEGIN,
//     rather than failing with SQLITE_BUSY when a read turns into a write.
func writerDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return fileURI(path, q)
}

// readerDSN configures the read-only connections. The writer has already put
// the file in WAL mode, which persists; query_only makes an accidental write
// through a reader fail instead of competing with the writer.
func readerDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "query_only(1)")
	return fileURI(path, q)
}

// fileURI builds a SQLite URI for an absolute path. Escaping the path keeps
// spaces, '?', '#' and '%' in file names from being read as URI syntax.
func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.writer.Close(), db.reader.Close())
}

// Ping checks that the database answers a query, for readiness probes, and
// reports its connections. After a write failed because the file could not
// be written (a full disk, a file system gone read-only, an I/O error), it
// also makes a small real write, and reports the database unavailable until
// that succeeds: a read alone would answer on a full disk. While writes
// work, Ping costs one read.
func (db *DB) Ping(ctx context.Context) (ports.DatabaseStatus, error) {
	status := db.Stats()
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return status, translate(ctx, "ping", err)
	}
	if !db.writesFailing.Load() {
		return status, nil
	}
	if err := db.probeWrite(ctx); err != nil {
		return status, translate(ctx, "write probe", err)
	}
	if db.writesFailing.CompareAndSwap(true, false) {
		db.logger.InfoContext(ctx, "database writes work again")
	}
	return status, nil
}

// Stats reports the connections: the writer and the pool of readers.
func (db *DB) Stats() ports.DatabaseStatus {
	readers, writer := db.reader.Stats(), db.writer.Stats()
	return ports.DatabaseStatus{
		Engine:         "sqlite",
		Connections:    readers.OpenConnections + writer.OpenConnections,
		InUse:          readers.InUse + writer.InUse,
		MaxConnections: readers.MaxOpenConnections + 1,
	}
}

// probeWrite commits a transaction that rewrites the header's user_version
// with its current value. The commit appends a page to the write-ahead log
// and syncs it, as every real write does, so it fails when they would, yet it
// changes nothing and needs no table. The application does not otherwise use
// user_version (goose keeps its own table).
func (db *DB) probeWrite(ctx context.Context) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		var version int64
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		// A pragma takes no bound parameters; version is an integer read
		// from the file, not input.
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version))
		return err
	})
}

// Migrate applies every pending migration from db.Migrations. It is safe to
// run on an up-to-date database; two processes should not migrate the same
// file at the same moment.
func (db *DB) Migrate(ctx context.Context) error {
	provider, err := db.migrator()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
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
// column existed: SQL cannot, since it is a digest.
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

// migrator returns a goose provider for the embedded migrations, running on
// the writer. Only these files count: Go migrations registered globally by
// other packages are ignored.
func (db *DB) migrator() (*goose.Provider, error) {
	fsys, err := fs.Sub(sqlitedb.Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db.writer.DB, fsys, goose.WithDisableGlobalRegistry(true))
}

// inTx runs fn in a write transaction on the writer connection and commits if
// fn returns nil. On an error, or a panic in fn, it rolls back. Because the
// writer is a single connection, transactions run one at a time, and fn must
// not write through the store itself or it waits forever.
func (db *DB) inTx(ctx context.Context, fn func(q *sqlcgen.Queries) error) error {
	return db.withTx(ctx, func(tx *sql.Tx) error { return fn(sqlcgen.New(tx)) })
}

// withTx is inTx on the bare transaction. A failure to write the file, at
// any step, marks writes as failing.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	defer func() { db.noteWriteError(ctx, err) }()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			db.logger.ErrorContext(ctx, "database rollback failed", "error", err)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	committed = true
	return nil
}

// noteWriteError marks writes as failing if err says that the database file
// cannot be written. Contention (SQLITE_BUSY, SQLITE_LOCKED) is not such a
// failure: it passes by itself and says nothing about the disk.
func (db *DB) noteWriteError(ctx context.Context, err error) {
	if !isWriteFault(err) {
		return
	}
	if db.writesFailing.CompareAndSwap(false, true) {
		db.logger.WarnContext(ctx, "database writes are failing; reporting not ready until a write succeeds", "error", err)
	}
}

// isWriteFault reports whether err is SQLite failing to write the file: a full
// disk, a read-only file or file system, an I/O error or a file it cannot open.
func isWriteFault(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// writePool is the writer connection pool. Statements run on it outside a
// transaction (the store's single-statement writes) note write failures as
// withTx does; transactions go through withTx.
type writePool struct {
	*sql.DB
	db *DB
}

// ExecContext runs a statement on the writer and notes a write failure.
func (p *writePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := p.DB.ExecContext(ctx, query, args...)
	p.db.noteWriteError(ctx, err)
	return res, err
}

// QueryContext runs a query on the writer and notes a write failure.
func (p *writePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := p.DB.QueryContext(ctx, query, args...)
	p.db.noteWriteError(ctx, err)
	return rows, err
}
