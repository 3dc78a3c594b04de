package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeMigratedTemplate()
	os.Exit(code)
}

// migratedTemplate is a database migrated once per test process. The
// contract suites open a database for every case, well over a thousand
// when they also run against the broken stores, and applying every
// migration to each cost most of their time; each starts from a copy
// instead. The migrations themselves are tested on databases of their own.
var migratedTemplate struct {
	once sync.Once
	dir  string
	err  error
}

// migratedCopy returns the path of a new database file in the test's
// temporary directory, a copy of the migrated template.
func migratedCopy(t *testing.T) string {
	t.Helper()
	migratedTemplate.once.Do(func() {
		migratedTemplate.dir, migratedTemplate.err = makeMigratedTemplate()
	})
	if migratedTemplate.err != nil {
		t.Fatalf("migrated template: %v", migratedTemplate.err)
	}
	dst := filepath.Join(t.TempDir(), "auth.db")
	// Closing the template checkpointed its log, but a log left behind
	// would hold part of the schema: copy it too when there is one.
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(filepath.Join(migratedTemplate.dir, "auth.db"+suffix))
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatalf("copy the migrated template: %v", err)
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatalf("copy the migrated template: %v", err)
		}
	}
	return dst
}

func makeMigratedTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "authapi-sqlite-template-")
	if err != nil {
		return "", err
	}
	db, err := Open(context.Background(), filepath.Join(dir, "auth.db"), nil)
	if err == nil {
		err = db.Migrate(context.Background())
		err = errors.Join(err, db.Close())
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func removeMigratedTemplate() {
	if migratedTemplate.dir != "" {
		os.RemoveAll(migratedTemplate.dir)
	}
}
