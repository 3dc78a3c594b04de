// Package pgscratch makes PostgreSQL databases that a process drops when it
// is done with them (the tests' and the load benchmark's), and drops those
// that a process killed before its end left behind. Each is marked with the
// time it was made, in the database's comment, so that a later process can
// tell a leftover from a database another run is still using.
package pgscratch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// mark is the comment of a scratch database: when it was made, in Unix
// seconds.
const mark = "created %d"

// Create creates the database name on conn's server, marked with the time
// it was made. If it cannot be marked, it is dropped again.
func Create(ctx context.Context, conn *pgx.Conn, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create the database %s: %w", name, err)
	}
	comment := fmt.Sprintf("COMMENT ON DATABASE %s IS '"+mark+"'", ident, time.Now().Unix())
	if _, err := conn.Exec(ctx, comment); err != nil {
		return errors.Join(fmt.Errorf("mark the database %s: %w", name, err), Drop(ctx, conn, name))
	}
	return nil
}

// Drop drops the database name, closing the connections still open to it.
func Drop(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop the database %s: %w", name, err)
	}
	return nil
}

// DropStale drops the marked databases whose names start with prefix and
// that were made more than olderThan ago. It is a clean-up: what it cannot
// read or drop, it leaves.
func DropStale(ctx context.Context, conn *pgx.Conn, prefix string, olderThan time.Duration) {
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE starts_with(datname, $1)`, prefix)
	if err != nil {
		return
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var r [2]string
		return r, row.Scan(&r[0], &r[1])
	})
	if err != nil {
		return
	}
	for _, r := range found {
		name, comment := r[0], r[1]
		var since int64
		if _, err := fmt.Sscanf(comment, mark, &since); err != nil || time.Since(time.Unix(since, 0)) < olderThan {
			continue
		}
		Drop(ctx, conn, name)
	}
}
