package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestBackupWhileWriting copies a database that another goroutine keeps
// writing to, and checks that the copy is a sound, self-contained snapshot.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, filepath.Join(dir, "auth.db"))
	store := testStore(t, db)
	newUser := backupUsers(t)
	const before = 20
	for i := range before {
		if err := store.CreateUser(t.Context(), newUser("before", i), ports.Effects{Mail: []ports.OutgoingMail{backupMail("before", i)}}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}

	// The writer runs until the backup is done; each of its accounts comes
	// with one queued email in the same transaction, so a consistent copy
	// has as many emails as accounts.
	stop := make(chan struct{})
	firstWrite := make(chan struct{})
	var (
		wg       sync.WaitGroup
		written  int
		writeErr error
	)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := store.CreateUser(context.Background(), newUser("during", i), ports.Effects{Mail: []ports.OutgoingMail{backupMail("during", i)}}); err != nil {
				writeErr = err
				return
			}
			written++
			if i == 0 {
				close(firstWrite)
			}
		}
	})
	<-firstWrite

	target := filepath.Join(dir, "backups", "auth-copy.db")
	if err := os.Mkdir(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	size, backupErr := db.Backup(t.Context(), target)
	close(stop)
	wg.Wait()
	if backupErr != nil {
		t.Fatalf("Backup: %v", backupErr)
	}
	if writeErr != nil {
		t.Fatalf("writing during the backup: %v", writeErr)
	}

	info, err := os.Stat(target)
	if err != nil {
		t.Fatalf("stat the copy: %v", err)
	}
	if got, want := size, info.Size(); got != want || got == 0 {
		t.Errorf("Backup returned size %d, the file has %d bytes; want equal and non-zero", got, want)
	}
	if got, want := info.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("copy mode = %v, want %v", got, want)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(target + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s beside the copy: %v; want none, the copy must be one file", suffix, err)
		}
	}

	raw := openRaw(t, target, "query_only(1)")
	var check string
	if err := raw.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if check != "ok" {
		t.Errorf("integrity_check on the copy = %q, want ok", check)
	}
	var users, mails int
	if err := raw.QueryRowContext(t.Context(), "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM outbox)").Scan(&users, &mails); err != nil {
		t.Fatalf("count rows in the copy: %v", err)
	}
	if users != mails {
		t.Errorf("the copy has %d accounts and %d emails, want as many of each: it is not one snapshot", users, mails)
	}
	t.Logf("%d accounts written while the backup ran; the copy has %d of them", written, users-before)
	if users < before || users > before+written {
		t.Errorf("the copy has %d accounts, want between %d and %d", users, before, before+written)
	}

	// The copy is a database the service can run on: restoring is putting
	// it in place.
	restored := openTestDB(t, target)
	for i := range before {
		u := newUser("before", i)
		if _, err := testStore(t, restored).UserByEmail(t.Context(), u.Email); err != nil {
			t.Errorf("UserByEmail(%s) in the copy: %v", u.Email, err)
		}
	}
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"existing file", []byte("precious")},
		{"existing empty file", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openTestDB(t, filepath.Join(dir, "auth.db"))
			target := filepath.Join(dir, "taken.db")
			if err := os.WriteFile(target, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}

			_, err := db.Backup(t.Context(), target)

			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("Backup onto an existing file: %v, want fs.ErrExist", err)
			}
			got, readErr := os.ReadFile(target)
			if readErr != nil {
				t.Fatal(readErr)
			}
			if string(got) != string(tt.content) {
				t.Errorf("the existing file now holds %q, want it untouched (%q)", got, tt.content)
			}
		})
	}
}

func TestBackupFailureLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, filepath.Join(dir, "auth.db"))
	target := filepath.Join(dir, "copy.db")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, err := db.Backup(ctx, target); err == nil {
		t.Fatal("Backup with a cancelled context succeeded, want an error")
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed backup: stat %s = %v, want no file", target, err)
	}
}

func TestBackupIntoMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, filepath.Join(dir, "auth.db"))
	_, err := db.Backup(t.Context(), filepath.Join(dir, "missing", "copy.db"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Backup into a missing directory: %v, want fs.ErrNotExist", err)
	}
}

// backupUsers returns a maker of accounts like testUser's, each with an id and
// email of its own so that many can be stored. The maker is safe to call from
// any goroutine.
func backupUsers(t *testing.T) func(batch string, i int) domain.User {
	t.Helper()
	template := testUser(t, "template@example.com")
	return func(batch string, i int) domain.User {
		u := template
		u.ID = fmt.Sprintf("%s-%06d", batch, i)
		u.Email = backupEmail(batch, i)
		return u
	}
}

func backupEmail(batch string, i int) domain.Email {
	return domain.Email(fmt.Sprintf("%s-%d@example.com", batch, i))
}

func backupMail(batch string, i int) ports.OutgoingMail {
	return ports.OutgoingMail{
		Message: ports.Message{
			ID:      fmt.Sprintf("mail-%s-%06d", batch, i),
			To:      backupEmail(batch, i),
			Subject: "Your activation code",
			Text:    "code 123456",
			HTML:    "<b>123456</b>",
		},
		QueuedAt: time.Date(2025, time.May, 4, 12, 0, 0, 0, time.UTC),
	}
}
