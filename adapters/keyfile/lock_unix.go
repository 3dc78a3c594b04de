//go:build unix

package keyfile

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the file at path, creating
// it (empty, mode 0600) if missing, and returns the function that releases
// it. The lock ends with the process, so a crash cannot leave it held.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
