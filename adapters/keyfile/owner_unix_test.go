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
	"authapi/ports"
)

// The service runs as its own user, and an administrator often rotates as
// root: the new file must stay readable by the service, whether the keys
// are written directly or through the store, as rotation does.
func TestWriteSigningKeysKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	tests := []struct {
		name  string
		write func(t *testing.T, path string, added ports.SigningKey) error
	}{
		{"WriteSigningKeys", func(t *testing.T, path string, added ports.SigningKey) error {
			keys, err := keyfile.ReadSigningKeys(path)
			if err != nil {
				t.Fatalf("ReadSigningKeys: %v", err)
			}
			return keyfile.WriteSigningKeys(path, append(keys, added))
		}},
		{"Store.UpdateSigningKeys", func(t *testing.T, path string, added ports.SigningKey) error {
			return keyfile.NewStore(path).UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
				return append(keys, added), nil
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			keys, _, err := firstStart(t.Context(), keyfile.NewStore(path), now)
			if err != nil {
				t.Fatalf("first start: %v", err)
			}
			const uid, gid = 65534, 65533
			if err := os.Chown(path, uid, gid); err != nil {
				t.Fatalf("chown: %v", err)
			}
			added, err := keyfile.GenerateSigningKey(rand.Reader, now.Add(time.Hour), now.Add(time.Hour))
			if err != nil {
				t.Fatalf("GenerateSigningKey: %v", err)
			}
			if err := tt.write(t, path, added); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
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
			// The file holds the new set: the owner was not kept by leaving
			// the old file in place.
			assertSameKeys(t, assertKeyFile(t, path), append(keys, added))
		})
	}
}
