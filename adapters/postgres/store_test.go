package postgres

import (
	"crypto/rand"
	"errors"
	"testing"

	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
	"authapi/ports/porttest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// openTestDB opens a migrated database in a schema of the test's own.
func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), testkit.Postgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// contractStore is the store and the throttle of one database, as the
// contract suites see a storage adapter.
type contractStore struct {
	*Store
	*Throttle
}

func newContractStore(t *testing.T) porttest.Store {
	db := openTestDB(t)
	return contractStore{Store: NewStore(db), Throttle: NewThrottle(db)}
}

func TestUserStoreContract(t *testing.T)      { porttest.TestUserStore(t, newContractStore) }
func TestSessionStoreContract(t *testing.T)   { porttest.TestSessionStore(t, newContractStore) }
func TestOperatorsContract(t *testing.T)      { porttest.TestOperators(t, newContractStore) }
func TestChallengeStoreContract(t *testing.T) { porttest.TestChallengeStore(t, newContractStore) }
func TestPasskeyStoreContract(t *testing.T)   { porttest.TestPasskeyStore(t, newContractStore) }
func TestOutboxContract(t *testing.T)         { porttest.TestOutbox(t, newContractStore) }
func TestLoginThrottleContract(t *testing.T) {
	porttest.TestLoginThrottle(t, newContractStore)
}

func TestRateLimiterContract(t *testing.T) {
	porttest.TestRateLimiter(t, func(t *testing.T) ports.RateLimiter { return NewLimiter(openTestDB(t)) })
}

func TestKeyStoreContract(t *testing.T) {
	porttest.TestKeyStore(t, func(t *testing.T) ports.KeyStore {
		keys, err := NewKeyStore(openTestDB(t), make([]byte, 32), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	})
}

// TestPing: readiness needs a database that answers and takes writes, and
// reports the pool.
func TestPing(t *testing.T) {
	db := openTestDB(t)
	status, err := db.Ping(t.Context())
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if status.Engine != "postgres" || status.MaxConnections < 1 || status.Connections < 1 {
		t.Errorf("status = %+v, want the postgres engine and its open pool", status)
	}

	// A server that refuses writes, as one set read-only does.
	readOnly, err := Open(t.Context(), testkit.Postgres(t)+"&default_transaction_read_only=on", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer readOnly.Close()
	if _, err := readOnly.Ping(t.Context()); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Ping of a read-only database = %v, want unavailable", err)
	}

	db.Close()
	if _, err := db.Ping(t.Context()); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want unavailable", err)
	}
}
