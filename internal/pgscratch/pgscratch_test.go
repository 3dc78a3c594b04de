package pgscratch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"authapi/internal/pgscratch"
	"authapi/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestDropStaleDropsOnlyOldMarkedDatabasesWithThePrefix makes databases with
// and without the prefix and the mark, and checks which DropStale drops.
func TestDropStaleDropsOnlyOldMarkedDatabasesWithThePrefix(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), testkit.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the connection closes after the drops.
	t.Cleanup(func() { conn.Close(context.Background()) })
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "authapi_scratch_" + hex.EncodeToString(b) + "_"

	marked, unmarked, other := prefix+"marked", prefix+"unmarked", "authapi_other_"+hex.EncodeToString(b)
	for _, name := range []string{marked, other} {
		if err := pgscratch.Create(t.Context(), conn, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{unmarked}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{marked, unmarked, other} {
			if err := pgscratch.Drop(context.Background(), conn, name); err != nil {
				t.Error(err)
			}
		}
	})

	// Younger than an hour: nothing goes.
	pgscratch.DropStale(t.Context(), conn, prefix, time.Hour)
	if got, want := existing(t, conn, marked, unmarked, other), []string{marked, unmarked, other}; !slices.Equal(got, want) {
		t.Fatalf("after dropping those older than an hour: %v, want %v", got, want)
	}
	// Older than nothing: only the marked database with the prefix goes.
	pgscratch.DropStale(t.Context(), conn, prefix, 0)
	if got, want := existing(t, conn, marked, unmarked, other), []string{unmarked, other}; !slices.Equal(got, want) {
		t.Errorf("after dropping every stale one: %v, want %v", got, want)
	}
}

// existing returns those of names that name a database, in order.
func existing(t *testing.T, conn *pgx.Conn, names ...string) []string {
	t.Helper()
	var found []string
	for _, name := range names {
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			found = append(found, name)
		}
	}
	return found
}
