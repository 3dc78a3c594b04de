//go:build unix

package keyfile_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"authapi/adapters/keyfile"
)

// The service runs as its own user, and an administrator often rotates as
// root: the new file must stay readable by the service.
func TestWriteSigningKeysKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "signing.pem")
	keys, _, err := keyfile.LoadOrCreateSigningKeys(path, now, rand.Reader)
	if err != nil {
		t.Fatalf("LoadOrCreateSigningKeys: %v", err)
	}
	const uid, gid = 65534, 65533
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatalf("chown: %v", err)
	}
	added, err := keyfile.GenerateSigningKey(rand.Reader, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatalf("GenerateSigningKey: %v", err)
	}
	if err := keyfile.WriteSigningKeys(path, append(keys, added)); err != nil {
		t.Fatalf("WriteSigningKeys: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no Unix ownership on this system")
	}
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
}
