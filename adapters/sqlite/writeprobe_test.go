package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestPingReportsFailingWrites checks that Ping, which a read satisfies,
// reports the database unavailable once a write failed for want of a writable
// file, and ready again once writes work, but not for mere lock contention.
func TestPingReportsFailingWrites(t *testing.T) {
	writes := []struct {
		name  string
		write func(t *testing.T, s *Store, n int) error
	}{
		{"in a transaction", func(t *testing.T, s *Store, n int) error {
			return s.CreateUser(t.Context(), backupUsers(t)("probe", n), ports.Effects{})
		}},
		{"in one statement", func(t *testing.T, s *Store, _ int) error {
			return s.RetryLater(t.Context(), backupMail("probe", 0).ID, 1, time.Now(), "refused")
		}},
	}
	faults := []struct {
		name         string
		start        func(t *testing.T, db *DB, path string) (stop func())
		wantNotReady bool
	}{
		{"file read-only", readOnlyWriter, true},
		{"lock held elsewhere", lockHeldElsewhere, false},
	}
	for _, w := range writes {
		for _, f := range faults {
			t.Run(w.name+"/"+f.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "auth.db")
				db := openTestDB(t, path)
				store := testStore(t, db)
				if err := store.CreateUser(t.Context(), backupUsers(t)("probe", 0), ports.Effects{Mail: []ports.OutgoingMail{backupMail("probe", 0)}}); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}

				stop := f.start(t, db, path)
				err := w.write(t, store, 1)
				if !errors.Is(err, domain.ErrUnavailable) {
					t.Fatalf("write during the fault: %v, want ErrUnavailable", err)
				}
				_, pingErr := db.Ping(t.Context())
				stop()

				if f.wantNotReady && !errors.Is(pingErr, domain.ErrUnavailable) {
					t.Errorf("Ping while writes fail = %v, want ErrUnavailable", pingErr)
				}
				if !f.wantNotReady && pingErr != nil {
					t.Errorf("Ping during lock contention = %v, want nil", pingErr)
				}
				if _, err := db.Ping(t.Context()); err != nil {
					t.Errorf("Ping once the fault is gone = %v, want nil", err)
				}
				if db.writesFailing.Load() {
					t.Error("writes still marked failing after a successful Ping")
				}
				if err := w.write(t, store, 2); err != nil {
					t.Errorf("write once the fault is gone: %v", err)
				}
			})
		}
	}
}

// TestPingWritesNothingWhileHealthy checks that the readiness check stays a
// read while writes work.
func TestPingWritesNothingWhileHealthy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	db := openTestDB(t, path)
	if err := testStore(t, db).CreateUser(t.Context(), testUser(t, "a@example.com"), ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	before := walSize(t, path)
	for range 3 {
		if _, err := db.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
	if got := walSize(t, path); got != before {
		t.Errorf("write-ahead log grew from %d to %d bytes during healthy pings, want no writes", before, got)
	}
}

// TestWriteProbeWrites checks that the probe is a real, committed write: it
// must fail where writes fail, so it has to reach the file.
func TestWriteProbeWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	db := openTestDB(t, path)
	before := walSize(t, path)
	if err := db.probeWrite(t.Context()); err != nil {
		t.Fatalf("probeWrite: %v", err)
	}
	if got := walSize(t, path); got <= before {
		t.Errorf("write-ahead log is %d bytes after the probe, %d before; want it to grow", got, before)
	}
	var version int
	if err := db.reader.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != 0 {
		t.Errorf("user_version = %d after the probe, want it unchanged (0)", version)
	}
}

// readOnlyWriter makes the writer connection refuse writes, as a file that
// became read-only does (SQLITE_READONLY), until stop is called.
func readOnlyWriter(t *testing.T, db *DB, _ string) func() {
	t.Helper()
	setWriterPragma(t, db, "PRAGMA query_only = 1")
	return func() { setWriterPragma(t, db, "PRAGMA query_only = 0") }
}

// lockHeldElsewhere has another connection hold the write lock, and the
// writer give up at once rather than wait (SQLITE_BUSY), until stop is
// called.
func lockHeldElsewhere(t *testing.T, db *DB, path string) func() {
	t.Helper()
	setWriterPragma(t, db, "PRAGMA busy_timeout = 0")
	other := openRaw(t, path, "busy_timeout(0)")
	tx, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A deferred transaction takes the write lock at its first write.
	if _, err := tx.ExecContext(t.Context(), "UPDATE users SET updated_at = updated_at"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Errorf("release the lock: %v", err)
		}
		setWriterPragma(t, db, "PRAGMA busy_timeout = 5000")
	}
}

// setWriterPragma runs a pragma on the writer, which has one connection, so
// that it holds for the store's next writes.
func setWriterPragma(t *testing.T, db *DB, pragma string) {
	t.Helper()
	if _, err := db.writer.DB.ExecContext(t.Context(), pragma); err != nil {
		t.Fatalf("%s: %v", pragma, err)
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatalf("stat the write-ahead log: %v", err)
	}
	return info.Size()
}
