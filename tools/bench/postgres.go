package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"authapi/internal/pgscratch"
)

// The PostgreSQL server the benchmark creates its databases on: the one
// the tests use, from the same variable, with the same default.
const (
	postgresURLEnv     = "AUTH_TEST_POSTGRES_URL"
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// defaultPostgres is the -postgres flag's default.
func defaultPostgres() string {
	if u := os.Getenv(postgresURLEnv); u != "" {
		return u
	}
	return defaultPostgresURL
}

// postgresServer is a connection to the server on which the benchmark
// creates a database for each setup that needs one, and drops it after.
// It also reads the CPU time of the server's processes that serve a
// database.
type postgresServer struct {
	admin string // the server's URL, as given
	conn  *pgx.Conn
	run   string // a name part that keeps this run's databases apart
	// local is set when the server runs on this machine, whose /proc then
	// tells the CPU time of its backends.
	local bool
}

// connectPostgres connects to the server at adminURL, whose user must be
// allowed to create databases (pool settings in the URL are for the
// service's pool, and the databases' URLs keep them), and drops the databases that benchmarks
// killed before they could clean up left behind.
func connectPostgres(ctx context.Context, adminURL string) (*postgresServer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, withoutPoolSettings(adminURL))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s (-postgres, default $%s): %v; "+
			"start it (bash tools/scripts/postgres.sh), point -postgres at a server whose user may create databases, "+
			"or leave PostgreSQL out with -setups sqlite", redactURL(adminURL), postgresURLEnv, err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	host := conn.Config().Host
	local := strings.HasPrefix(host, "/") || host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		local = ip.IsLoopback()
	}
	pg := &postgresServer{admin: adminURL, conn: conn, run: hex.EncodeToString(b), local: local}
	pgscratch.DropStale(ctx, conn, benchDatabasePrefix, staleAfter)
	return pg, nil
}

// close closes the connection.
func (pg *postgresServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pg.conn.Close(ctx)
}

// benchDatabasePrefix starts the name of every database the benchmark makes.
const benchDatabasePrefix = "authapi_bench_"

// staleAfter is how old a benchmark's database must be before another
// benchmark drops it: older than any run.
const staleAfter = 6 * time.Hour

// benchDatabase is a database that the benchmark created.
type benchDatabase struct {
	name, url string
	drop      func() error
}

// createDatabase creates an empty database for setup.
func (pg *postgresServer) createDatabase(ctx context.Context, setup string) (benchDatabase, error) {
	name := benchDatabasePrefix + pg.run + "_" + strings.ReplaceAll(setup, "-", "_")
	if err := pgscratch.Create(ctx, pg.conn, name); err != nil {
		return benchDatabase{}, err
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgscratch.Drop(ctx, pg.conn, name)
	}
	u, err := url.Parse(pg.admin)
	if err != nil {
		return benchDatabase{}, errors.Join(fmt.Errorf("-postgres: %w", err), drop())
	}
	u.Path = "/" + name
	return benchDatabase{name: name, url: u.String(), drop: drop}, nil
}

// withoutPoolSettings removes the settings of pgx's pool (pool_max_conns
// and the like) from a URL, which the service's pool takes but a single
// connection refuses: the benchmark passes them on to the service.
func withoutPoolSettings(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redactURL masks the password of a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the -postgres URL"
	}
	return u.Redacted()
}

// backends returns the process ids of the server's backends connected to
// database, whose CPU time /proc tells when the server runs on this
// machine.
func (pg *postgresServer) backends(ctx context.Context, database string) ([]int, error) {
	rows, err := pg.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
