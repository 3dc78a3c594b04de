package memstore_test

import (
	"testing"

	"authapi/adapters/memstore"
	"authapi/ports"
	"authapi/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.TestUserStore(t, func(*testing.T) ports.UserStore { return memstore.New() })
}

func TestOutboxContract(t *testing.T) {
	porttest.TestOutbox(t, func(*testing.T) porttest.MailStore { return memstore.New() })
}

func TestSessionStoreContract(t *testing.T) {
	porttest.TestSessionStore(t, func(*testing.T) porttest.SessionUserStore { return memstore.New() })
}
