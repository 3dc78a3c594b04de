package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"authapi/internal/pgscratch"
)

// Environment variables that choose the database of the tests.
const (
	// DatabaseEnv chooses the engine the whole suite runs on: "sqlite"
	// (the default) or "postgres".
	DatabaseEnv = "AUTH_TEST_DATABASE"
	// PostgresURLEnv is the server the PostgreSQL tests use: a URL whose
	// user may create databases.
	PostgresURLEnv = "AUTH_TEST_POSTGRES_URL"
	// DefaultPostgresURL is the local server, as the machines that run the
	// tests have it.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// OnPostgres reports whether the suite runs on PostgreSQL
// (AUTH_TEST_DATABASE=postgres) rather than SQLite.
func OnPostgres() bool { return os.Getenv(DatabaseEnv) == "postgres" }

var pg struct {
	once  sync.Once
	admin string // the server's URL, from PostgresURLEnv
	db    string // the database of this test process
	url   string // its URL
	err   error
	skip  bool // no server answers, and none is required
	mu    sync.Mutex
	n     int
}

// Postgres returns the URL of an empty schema of the test's own, in a
// database that this test process creates on first use and
// RemovePostgres drops. The schema is dropped when the test ends. So tests,
// test processes and runs never see each other's rows.
//
// When no server answers at AUTH_TEST_POSTGRES_URL the test is skipped,
// unless the suite runs on PostgreSQL (AUTH_TEST_DATABASE=postgres), when
// it fails.
func Postgres(tb testing.TB) string {
	tb.Helper()
	pg.once.Do(createTestDatabase)
	if pg.skip && !OnPostgres() {
		tb.Skipf("no PostgreSQL answers at %s (%v); set %s to run the PostgreSQL tests", redact(pg.admin), pg.err, PostgresURLEnv)
	}
	if pg.err != nil {
		tb.Fatalf("PostgreSQL for the tests: %v", pg.err)
	}
	pg.mu.Lock()
	pg.n++
	schema := fmt.Sprintf("t%d_%s", pg.n, randomHex(4))
	pg.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		tb.Fatalf("PostgreSQL for the tests: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("PostgreSQL for the tests: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.url)
		if err != nil {
			tb.Errorf("PostgreSQL for the tests: drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("PostgreSQL for the tests: drop schema: %v", err)
		}
	})
	u, _ := url.Parse(pg.url)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// createTestDatabase creates the database of this test process, after
// dropping those that test processes killed before their end left behind.
func createTestDatabase() {
	pg.admin = os.Getenv(PostgresURLEnv)
	if pg.admin == "" {
		pg.admin = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.admin)
	if err != nil {
		pg.err, pg.skip = err, true
		return
	}
	defer conn.Close(ctx)
	pgscratch.DropStale(ctx, conn, testDatabasePrefix, staleAfter)
	pg.db = testDatabasePrefix + randomHex(6)
	if err := pgscratch.Create(ctx, conn, pg.db); err != nil {
		pg.err = err
		return
	}
	u, err := url.Parse(pg.admin)
	if err != nil {
		pg.err = err
		return
	}
	u.Path = "/" + pg.db
	pg.url = u.String()
}

// staleAfter is how old a test database must be before another test
// process drops it: older than any test run.
const staleAfter = 6 * time.Hour

// testDatabasePrefix starts the name of every test process's database.
const testDatabasePrefix = "authapi_test_"

// RemovePostgres drops the database of this test process, if it made one;
// a package's TestMain calls it once its tests have run.
func RemovePostgres() {
	if pg.db == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testkit: drop the test database %s: %v\n", pg.db, err)
		return
	}
	defer conn.Close(ctx)
	if err := pgscratch.Drop(ctx, conn, pg.db); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: %v\n", err)
	}
}

// Main runs a package's tests and then removes what the kit made for them:
// the built binary and the PostgreSQL test database. Use it as TestMain.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBuild()
	RemovePostgres()
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the configured URL"
	}
	return strings.TrimSpace(u.Redacted())
}
