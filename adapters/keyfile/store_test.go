package keyfile

import (
	"path/filepath"
	"testing"

	"authapi/ports"
	"authapi/ports/porttest"
)

func TestKeyStoreContract(t *testing.T) {
	porttest.TestKeyStore(t, func(t *testing.T) ports.KeyStore {
		return NewStore(filepath.Join(t.TempDir(), "signing.pem"))
	})
}
