package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database to the file at path and
// returns the copy's size in bytes. It runs while the service serves: the copy
// is taken with VACUUM INTO inside one read transaction, so it holds every
// write committed before it started and none after, and writers are not held
// up. The copy is one self-contained file (no -wal or -shm beside it), synced
// to disk, readable only by its owner since it holds password hashes and the
// codes of unsent email.
//
// path must not exist: Backup never overwrites a file and returns an error
// matching fs.ErrExist instead. If the copy fails, the partial file is
// removed.
func (db *DB) Backup(ctx context.Context, path string) (int64, error) {
	target, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	// Creating the file exclusively is what refuses to overwrite, with no
	// window between a check and the copy; VACUUM INTO accepts an empty file.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("sqlite: backup to %s: the file already exists; choose a new name: %w", target, fs.ErrExist)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup to %s: %w", target, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(target)
		return 0, fmt.Errorf("sqlite: backup to %s: %w", target, err)
	}

	size, err := db.copyInto(ctx, target)
	if err != nil {
		// The copy may have stopped half-way; a partial file must not pass
		// for a backup.
		if rmErr := os.Remove(target); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove the partial copy: %w", rmErr))
		}
		return 0, err
	}
	return size, nil
}

// copyInto runs VACUUM INTO target and syncs the result.
func (db *DB) copyInto(ctx context.Context, target string) (int64, error) {
	// The reader pool is query_only, which refuses VACUUM INTO even though
	// it writes only the new file, so the copy gets a connection of its own
	// that reads like a reader and never begins a write transaction on the
	// database.
	conn, err := openPool(ctx, db.path, backupDSN(db.path), 1)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", target); err != nil {
		return 0, translate(ctx, "backup to "+target, err)
	}
	// SQLite does not sync the file VACUUM INTO writes; a backup that a
	// power cut can take away is no backup.
	size, err := syncFile(target)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup to %s: %w", target, err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return 0, fmt.Errorf("sqlite: backup to %s: %w", target, err)
	}
	return size, nil
}

// backupDSN configures the connection that takes a backup: like a reader, but
// without query_only.
func backupDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	return fileURI(path, q)
}

// syncFile flushes the file at path to stable storage and returns its size.
func syncFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// syncDir makes a new directory entry durable, so that the file is still
// there, under its name, after a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
