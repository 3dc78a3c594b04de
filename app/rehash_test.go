package app

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"authapi/adapters/hasher"
)

// TestLoginRehashesUnderNewParameters restarts the service on the same
// database with costlier hashing, as an operator raising the parameters
// would, and checks that a login moves the account to them.
func TestLoginRehashesUnderNewParameters(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	before := storedHash(t, api.storage)

	stronger := cheapHash
	stronger.Memory, stronger.Iterations = 2*cheapHash.Memory, cheapHash.Iterations+1
	restarted := api.rewired(t, stronger)

	restarted.login(t)
	after := storedHash(t, api.storage)
	if after == before {
		t.Fatal("the stored hash is unchanged after a login under new parameters")
	}
	if hasher.New(stronger, rand.Reader, 1).NeedsRehash(after) {
		t.Errorf("stored hash %q is not under the new parameters", after)
	}
	if !strings.Contains(api.logs.String(), "password hash upgraded") {
		t.Errorf("the upgrade is not logged: %s", api.logs)
	}

	restarted.login(t)
	if again := storedHash(t, api.storage); again != after {
		t.Errorf("a second login rehashed again: %q, then %q", after, again)
	}
	if strings.Contains(api.logs.String(), password) {
		t.Errorf("log leaks the password: %s", api.logs)
	}
}

// rewired returns the service wired anew on api's database, mailer, clock
// and log, hashing new passwords with params.
func (api *testAPI) rewired(t *testing.T, params hasher.Params) *testAPI {
	t.Helper()
	cfg, _, err := parseConfig(nil, envOf(map[string]string{
		"AUTH_SIGNING_KEY_FILE": filepath.Join(t.TempDir(), "signing-key.pem"),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(api.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := wire(context.Background(), cfg, log, api.storage, runtimeDeps{
		mailer: api.mailer, clock: api.clock, random: rand.Reader, hashParams: params, outbox: cfg.Outbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testAPI{handler: svc.handler, dispatcher: svc.dispatcher, storage: api.storage, mailer: api.mailer, clock: api.clock, logs: api.logs}
}

func storedHash(t *testing.T, st *storage) string {
	t.Helper()
	user, err := st.accounts.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return user.PasswordHash
}
