package keyfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// createFile makes path hold exactly data with mode 0600, or fails with an
// error matching fs.ErrExist if path already exists. The data goes to a temp
// file that is synced before being hard-linked into place: link never
// replaces an existing name, and readers never see a partial file.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmpName, err := writeTemp(path, data, nil)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName) // after a successful link this only drops the temp name

	if err := os.Link(tmpName, path); err != nil {
		return err
	}
	if err := os.Remove(tmpName); err != nil {
		return err
	}
	return syncDir(dir)
}

// replaceFile atomically replaces path with data, mode 0600, owned like the
// file described by old, so a service running as that owner can still read
// it after an administrator rotated the key.
func replaceFile(path string, data []byte, old fs.FileInfo) error {
	tmpName, err := writeTemp(path, data, old)
	if err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a synced temp file (mode 0600) beside path and
// returns its name. With old set, the temp file gets old's owner.
func writeTemp(path string, data []byte, old fs.FileInfo) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return "", err
	}
	err = func() error {
		if old != nil {
			if err := chownLike(tmp, old); err != nil {
				return err
			}
		}
		if _, err := tmp.Write(data); err != nil {
			return err
		}
		return tmp.Sync()
	}()
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes the new directory entry durable, so that a crash right after
// start-up cannot lose a secret already in use.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
