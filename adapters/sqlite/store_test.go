package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
	"authapi/ports/porttest"
)

// contractStore is the store and the throttle on one database: together
// they are what porttest judges.
type contractStore struct {
	*Store
	*Throttle
}

// newContractStore opens a store on a database of its own.
func newContractStore(t *testing.T) porttest.Store {
	db := openTestDB(t, migratedCopy(t))
	return contractStore{Store: testStore(t, db), Throttle: NewThrottle(db)}
}

func TestUserStoreContract(t *testing.T)      { porttest.TestUserStore(t, newContractStore) }
func TestSessionStoreContract(t *testing.T)   { porttest.TestSessionStore(t, newContractStore) }
func TestOperatorsContract(t *testing.T)      { porttest.TestOperators(t, newContractStore) }
func TestChallengeStoreContract(t *testing.T) { porttest.TestChallengeStore(t, newContractStore) }
func TestPasskeyStoreContract(t *testing.T)   { porttest.TestPasskeyStore(t, newContractStore) }
func TestOutboxContract(t *testing.T)         { porttest.TestOutbox(t, newContractStore) }
func TestLoginThrottleContract(t *testing.T)  { porttest.TestLoginThrottle(t, newContractStore) }

// TestSettledMailForgetsItsBody checks what the port cannot show: the code in
// a message's body leaves the database once the message is settled.
func TestSettledMailForgetsItsBody(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "auth.db"))
	store := testStore(t, db)
	now := time.UnixMilli(1_700_000_000_000).UTC()
	mail := func(id, slot string) ports.OutgoingMail {
		return ports.OutgoingMail{Message: ports.Message{ID: id, To: "a@example.com", Subject: "s", Text: "code 482913", HTML: "<b>482913</b>"}, Slot: slot, QueuedAt: now}
	}
	if err := store.CreateUser(t.Context(), testUser(t, "a@example.com"), ports.Effects{Mail: []ports.OutgoingMail{mail("sent", ""), mail("dead", ""), mail("old", "slot"), mail("pending", "")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateUser(t.Context(), ports.UserEmail("a@example.com"), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{Mail: []ports.OutgoingMail{mail("new", "slot")}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkSent(t.Context(), "sent", now); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkDead(t.Context(), "dead", 3, now, "gave up"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.reader.QueryContext(t.Context(), `SELECT id, state, text_body || html_body FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var id, state, body string
		if err := rows.Scan(&id, &state, &body); err != nil {
			t.Fatal(err)
		}
		got[id] = state + ":" + body
	}
	want := map[string]string{
		"sent": "sent:", "dead": "dead:", "old": "superseded:",
		"pending": "pending:code 482913<b>482913</b>", "new": "pending:code 482913<b>482913</b>",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outbox rows = %v\nwant %v", got, want)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	u := testUser(t, "keep@example.com")

	first := openTestDB(t, path)
	if err := testStore(t, first).CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	second := openTestDB(t, path) // migrates again
	if err := second.Migrate(t.Context()); err != nil {
		t.Fatalf("third Migrate: %v", err)
	}
	provider, err := second.migrator()
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	current, target, err := provider.GetVersions(t.Context())
	if err != nil {
		t.Fatalf("GetVersions: %v", err)
	}
	if current != target || target < 1 {
		t.Errorf("schema version %d, newest migration %d; want equal and at least 1", current, target)
	}
	n, err := sqlcgen.New(second.reader).CountUsers(t.Context())
	if err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
	if n != 1 {
		t.Errorf("CountUsers = %d after migrating again, want 1", n)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	u := testUser(t, "durable@example.com")
	db := openTestDB(t, path)
	store := testStore(t, db)
	if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	activatedAt := u.CreatedAt.Add(time.Minute)
	want, err := store.UpdateUser(t.Context(), ports.UserEmail(u.Email), porttest.NoEffects(func(u *domain.User) error {
		return u.Activate(testCodeKey, domain.CodeProof("123456"), activatedAt)
	}))
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got, err := testStore(t, openTestDB(t, path)).UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("UserByID after reopening: %v", err)
	}
	if !got.Active || !got.ActivatedAt.Equal(activatedAt) || got.Activation.Pending() {
		t.Errorf("after reopening: Active=%v ActivatedAt=%v Pending=%v, want true %v false",
			got.Active, got.ActivatedAt, got.Activation.Pending(), activatedAt)
	}
	if got.Email != want.Email || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("after reopening: got %+v, want %+v", got, want)
	}
}

func TestTimesRoundTripAtMillisecondsInUTC(t *testing.T) {
	store := testStore(t, openTestDB(t, filepath.Join(t.TempDir(), "auth.db")))
	tokyo := time.FixedZone("UTC+9", 9*60*60)
	created := time.Date(2025, time.July, 1, 9, 30, 0, 123_456_789, tokyo)
	u := testUser(t, "clock@example.com")
	u.CreatedAt, u.UpdatedAt, u.Activation.ExpiresAt = created, created, created.Add(time.Hour)
	if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := store.UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	tests := []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, created.Truncate(time.Millisecond).UTC()},
		{"UpdatedAt", got.UpdatedAt, created.Truncate(time.Millisecond).UTC()},
		{"Activation.ExpiresAt", got.Activation.ExpiresAt, created.Add(time.Hour).Truncate(time.Millisecond).UTC()},
		{"ActivatedAt", got.ActivatedAt, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.got.Equal(tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
			if !tt.got.IsZero() && tt.got.Location() != time.UTC {
				t.Errorf("location = %v, want UTC", tt.got.Location())
			}
		})
	}
}

func TestOpenAwkwardPaths(t *testing.T) {
	tests := []struct {
		name string
		rel  string
	}{
		{"space", "with space/auth db.db"},
		{"URI syntax", "q?x=1#frag%20/a&b;c.db"},
		{"non-ASCII", "dätä/ünï.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.rel)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			store := testStore(t, openTestDB(t, path))
			u := testUser(t, "path@example.com")
			if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if _, err := store.UserByEmail(t.Context(), u.Email); err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			if info, err := os.Stat(path); err != nil || info.Size() == 0 {
				t.Errorf("database file at %q: info %v, error %v; want a non-empty file", path, info, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, bytes.Repeat([]byte("not a database\n"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantMsg string // a substring of the error text
	}{
		{"empty path", "", "path is empty"},
		// A place the database cannot be is a configuration error, said in
		// words, never "unavailable": trying again would not help.
		{"missing directory", filepath.Join(dir, "missing", "auth.db"), filepath.Join(dir, "missing") + " does not exist"},
		{"parent is a file", filepath.Join(file, "auth.db"), "not a directory"},
		{"path is a directory", dir, "is a directory"},
		{"not a database", file, "plain-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.path, testLogger(t))
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.path)
			}
			if errors.Is(err, domain.ErrUnavailable) {
				t.Errorf("Open error = %v, reported as unavailable; want a configuration error", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open error = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestPing(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"), testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	status, err := db.Ping(t.Context())
	if err != nil {
		t.Errorf("Ping on an open database: %v", err)
	}
	if status.Engine != "sqlite" || status.MaxConnections < 2 {
		t.Errorf("status = %+v, want the sqlite engine with its writer and readers", status)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := db.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded, want an error")
	}
}

func TestCheckConstraintsRejectBadRows(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(p *sqlcgen.CreateUserParams)
	}{
		{"empty id", func(p *sqlcgen.CreateUserParams) { p.ID = "" }},
		{"empty email", func(p *sqlcgen.CreateUserParams) { p.Email = "" }},
		{"upper-case email", func(p *sqlcgen.CreateUserParams) { p.Email = "Bad@Example.com" }},
		{"padded email", func(p *sqlcgen.CreateUserParams) { p.Email = " bad@example.com" }},
		{"empty first name", func(p *sqlcgen.CreateUserParams) { p.FirstName = "" }},
		{"empty last name", func(p *sqlcgen.CreateUserParams) { p.LastName = "" }},
		{"empty password hash", func(p *sqlcgen.CreateUserParams) { p.PasswordHash = "" }},
		{"is_active not a boolean", func(p *sqlcgen.CreateUserParams) { p.IsActive = 2 }},
		{"negative attempts", func(p *sqlcgen.CreateUserParams) { p.ActivationAttempts = -1 }},
		{"empty code hash", func(p *sqlcgen.CreateUserParams) { p.ActivationCodeHash = []byte{} }},
		{"code without expiry", func(p *sqlcgen.CreateUserParams) { p.ActivationExpiresAt = sql.NullInt64{} }},
		{"expiry without code", func(p *sqlcgen.CreateUserParams) { p.ActivationCodeHash = nil }},
		{"active without activation time", func(p *sqlcgen.CreateUserParams) {
			p.IsActive, p.ActivationCodeHash, p.ActivationExpiresAt = 1, nil, sql.NullInt64{}
		}},
		{"active with a code pending", func(p *sqlcgen.CreateUserParams) {
			p.IsActive, p.ActivatedAt = 1, sql.NullInt64{Int64: p.CreatedAt, Valid: true}
		}},
	}
	db := openTestDB(t, filepath.Join(t.TempDir(), "auth.db"))
	q := sqlcgen.New(db.writer)
	valid := userParams(testUser(t, "valid@example.com"))
	if err := q.CreateUser(t.Context(), valid); err != nil {
		t.Fatalf("CreateUser(valid row): %v", err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			p.ID = strings.Repeat("x", i+1) // distinct from the valid row
			p.Email = "other@example.com"
			tt.spoil(&p)
			err := q.CreateUser(t.Context(), p)
			var se *sqlite.Error
			if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_CHECK {
				t.Errorf("CreateUser error = %v, want SQLITE_CONSTRAINT_CHECK", err)
			}
		})
	}
}

func TestStoreReportsBadRowAsInternal(t *testing.T) {
	store := testStore(t, openTestDB(t, filepath.Join(t.TempDir(), "auth.db")))
	u := testUser(t, "fine@example.com")
	u.Email = "Not-Normalized@Example.com"
	err := store.CreateUser(t.Context(), u, ports.Effects{})
	if err == nil {
		t.Fatal("CreateUser of a row breaking a CHECK succeeded")
	}
	if got := domain.ErrorCode(err); got != domain.CodeInternal {
		t.Errorf("ErrorCode(%v) = %q, want %q", err, got, domain.CodeInternal)
	}
	assertNoDriverType(t, err)
}

func TestUpdateUserRefusesIdentityChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(*domain.User)
	}{
		{"id", func(u *domain.User) { u.ID = "0190a000-0000-7000-8000-000000000000" }},
		{"email", func(u *domain.User) { u.Email = "moved@example.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := testStore(t, openTestDB(t, filepath.Join(t.TempDir(), "auth.db")))
			u := testUser(t, "fixed@example.com")
			if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			_, err := store.UpdateUser(t.Context(), ports.UserEmail(u.Email), porttest.NoEffects(func(u *domain.User) error {
				tt.change(u)
				u.FirstName = "Changed"
				return nil
			}))
			if err == nil {
				t.Fatal("UpdateUser succeeded, want an error")
			}
			got, err := store.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			if got.FirstName != u.FirstName || got.Email != u.Email {
				t.Errorf("stored %q %q, want unchanged %q %q", got.FirstName, got.Email, u.FirstName, u.Email)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	store := testStore(t, openTestDB(t, filepath.Join(t.TempDir(), "auth.db")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u := testUser(t, "late@example.com")
	if err := store.CreateUser(ctx, u, ports.Effects{}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser error = %v, want %v", err, context.Canceled)
	}
	if _, err := store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByID after canceled create = %v, want %v", err, domain.ErrUserNotFound)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		code int
		want outcome
	}{
		{"unique", sqlite3.SQLITE_CONSTRAINT_UNIQUE, outcomeEmailTaken},
		{"primary key", sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, outcomeInternal},
		{"check", sqlite3.SQLITE_CONSTRAINT_CHECK, outcomeInternal},
		{"not null", sqlite3.SQLITE_CONSTRAINT_NOTNULL, outcomeInternal},
		{"bare constraint", sqlite3.SQLITE_CONSTRAINT, outcomeInternal},
		{"generic error", sqlite3.SQLITE_ERROR, outcomeInternal},
		{"corrupt", sqlite3.SQLITE_CORRUPT, outcomeInternal},
		{"busy", sqlite3.SQLITE_BUSY, outcomeUnavailable},
		{"busy snapshot", sqlite3.SQLITE_BUSY_SNAPSHOT, outcomeUnavailable},
		{"locked", sqlite3.SQLITE_LOCKED, outcomeUnavailable},
		{"full", sqlite3.SQLITE_FULL, outcomeUnavailable},
		{"read-only", sqlite3.SQLITE_READONLY, outcomeUnavailable},
		{"read-only, file moved", sqlite3.SQLITE_READONLY_DBMOVED, outcomeUnavailable},
		{"I/O error", sqlite3.SQLITE_IOERR, outcomeUnavailable},
		{"I/O error on fsync", sqlite3.SQLITE_IOERR_FSYNC, outcomeUnavailable},
		{"cannot open", sqlite3.SQLITE_CANTOPEN, outcomeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.code); got != tt.want {
				t.Errorf("classify(%d) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// TestTranslateRealErrors provokes real SQLite failures and checks what the
// store would report for them.
func TestTranslateRealErrors(t *testing.T) {
	tests := []struct {
		name    string
		provoke func(t *testing.T, db *DB, path string) error
		want    error
	}{
		{"write through a read-only connection", writeThroughReader, domain.ErrUnavailable},
		{"database locked by another connection", writeWhileLocked, domain.ErrUnavailable},
		{"database full", fillDatabase, domain.ErrUnavailable},
		{"no such row", func(t *testing.T, db *DB, _ string) error {
			_, err := sqlcgen.New(db.reader).GetUserByID(t.Context(), "missing")
			return err
		}, domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "auth.db")
			db := openTestDB(t, path)
			raw := tt.provoke(t, db, path)
			if raw == nil {
				t.Fatal("the failure could not be provoked")
			}
			err := translate(t.Context(), "test", raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("translate(%v) = %v, want %v", raw, err, tt.want)
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("translate(%v) = %v, want a *domain.Error in the chain", raw, err)
			}
			if got, want := de.Message, tt.want.(*domain.Error).Message; got != want {
				t.Errorf("domain message = %q, want %q", got, want)
			}
			assertNoDriverType(t, err)
		})
	}
}

// writeThroughReader writes on a query_only connection: SQLITE_READONLY.
func writeThroughReader(t *testing.T, db *DB, _ string) error {
	t.Helper()
	_, err := db.reader.ExecContext(t.Context(), "CREATE TABLE intruder (x INTEGER)")
	return err
}

// writeWhileLocked writes from a connection that does not wait, while the
// store holds the write lock: SQLITE_BUSY.
func writeWhileLocked(t *testing.T, db *DB, path string) error {
	t.Helper()
	other := openRaw(t, path, "busy_timeout(0)")
	u := testUser(t, "locker@example.com")
	store := testStore(t, db)
	if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	var writeErr error
	_, err := store.UpdateUser(t.Context(), ports.UserEmail(u.Email), porttest.NoEffects(func(*domain.User) error {
		_, writeErr = other.ExecContext(t.Context(), "CREATE TABLE intruder (x INTEGER)")
		return nil
	}))
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	return writeErr
}

// fillDatabase caps the file's size and then outgrows it: SQLITE_FULL.
func fillDatabase(t *testing.T, _ *DB, path string) error {
	t.Helper()
	other := openRaw(t, path, "busy_timeout(5000)")
	other.SetMaxOpenConns(1) // max_page_count holds for one connection only
	ctx := t.Context()
	if _, err := other.ExecContext(ctx, "PRAGMA max_page_count = 1"); err != nil {
		t.Fatalf("cap the size: %v", err)
	}
	_, err := other.ExecContext(ctx, "CREATE TABLE filler AS SELECT zeroblob(1000000) AS b")
	return err
}

func openRaw(t *testing.T, path, pragma string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", fileURI(path, url.Values{"_pragma": {pragma}}))
	if err != nil {
		t.Fatalf("open raw connection: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// assertNoDriverType fails if err lets a caller reach the driver's error type.
func assertNoDriverType(t *testing.T, err error) {
	t.Helper()
	var se *sqlite.Error
	if errors.As(err, &se) {
		t.Errorf("error %v exposes *sqlite.Error", err)
	}
}

// openTestDB opens and migrates the database at path, closing it when the
// test ends.
// testStore returns a store on db, prepared for db's lifetime.
func testStore(t testing.TB, db *DB) *Store {
	t.Helper()
	store, err := NewStore(t.Context(), db)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return store
}

func openTestDB(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// testUser returns a new inactive account whose activation code is 123456.
func testUser(t *testing.T, email string) domain.User {
	t.Helper()
	reg, err := domain.NewRegistration(email, "correct horse battery staple", "Ada", "Lovelace")
	if err != nil {
		t.Fatalf("NewRegistration: %v", err)
	}
	now := time.Date(2025, time.May, 4, 12, 0, 0, 0, time.UTC)
	id, err := domain.NewID(now, bytes.NewReader(bytes.Repeat([]byte{7}, 10)))
	if err != nil {
		t.Fatalf("NewID: %v", err)
	}
	return domain.NewUser(id, reg, "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", testCodeKey, domain.CodeSecrets{Code: "123456", Link: "link-token"}, now, 15*time.Minute)
}

// testCodeKey is the code key of the store's tests.
var testCodeKey = func() domain.CodeKey {
	k, err := domain.NewCodeKey(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// TestDatabaseFilesArePrivate: the database and its -wal and -shm files hold
// password hashes and codes, so they are readable by their owner only,
// whatever the umask, and files left open to others are tightened.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	dir := t.TempDir()
	path := filepath.Join(dir, "auth.db")
	db := openTestDB(t, path)
	if err := testStore(t, db).CreateUser(t.Context(), testUser(t, "a@example.com"), ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(name), perm)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A database an earlier version left readable by others.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openTestDB(t, path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("a database opened with mode 0644 keeps mode %04o, want 0600", perm)
	}
}
