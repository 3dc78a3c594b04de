package app

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

// TestImportSQLiteMovesAnInstallation moves a SQLite installation to
// PostgreSQL with `authapi import-sqlite`, then serves from PostgreSQL with
// the same key files: users notice nothing. Accounts, with their second
// factors, and passkeys arrive whole; passwords, pending codes, sessions
// and the tokens issued before all keep working; ended sessions stay
// ended. A second import into the now non-empty database is refused.
func TestImportSQLiteMovesAnInstallation(t *testing.T) {
	dir := t.TempDir()
	files := func(c *Config) {
		c.SigningKeyFile = filepath.Join(dir, "signing.pem")
		c.SecretKeyFile = filepath.Join(dir, "secret.key")
	}
	old := newTestAPI(t, files, func(c *Config) { c.Database = Database{Path: filepath.Join(dir, "auth.db")} })
	old.activeUser(t)
	access, refresh := old.login(t)
	_, ended := old.login(t)
	wantStatus(t, old.do(t, "POST", "/logout", map[string]string{"refresh_token": ended}), http.StatusOK)
	pending := map[string]string{"email": "pending@example.com", "password": password, "first_name": "Pen", "last_name": "Ding"}
	wantStatus(t, old.do(t, "POST", "/signup", pending), http.StatusCreated)
	pendingCode := old.code(t, "pending@example.com")
	// A second factor and passkeys go with their accounts. They are set
	// through the store: what is copied is what is stored, whatever made it.
	const secondFactor = "second.factor@example.com"
	old.twoStepUser(t, secondFactor)
	passkeys := map[string][]domain.Passkey{
		email:        {importedPasskey(t, old, email, "laptop", 0)},
		secondFactor: {importedPasskey(t, old, secondFactor, "phone", 1), importedPasskey(t, old, secondFactor, "key", 2)},
	}
	accounts := map[string]domain.User{}
	for _, addr := range []string{email, "pending@example.com", secondFactor} {
		u, err := old.storage.accounts.UserByEmail(context.Background(), domain.Email(addr))
		if err != nil {
			t.Fatal(err)
		}
		accounts[addr] = u
	}
	old.storage.Close()

	pgURL := testkit.Postgres(t)
	env := map[string]string{
		"AUTH_DATABASE_URL":     pgURL,
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "signing.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"import-sqlite", filepath.Join(dir, "auth.db")}, environ(env), &out, &errOut); code != 0 {
		t.Fatalf("import-sqlite: exit %d\n%s", code, &errOut)
	}
	if log := errOut.String(); !strings.Contains(log, "users=3") || !strings.Contains(log, "passkeys=3") ||
		!strings.Contains(log, "sessions=1") || !strings.Contains(log, "keys=1") {
		t.Errorf("the import does not report 3 users, 3 passkeys, 1 live session and 1 key:\n%s", log)
	}

	moved := newTestAPI(t, files, func(c *Config) { c.Database = Database{URL: pgURL} })
	for addr, want := range accounts {
		got, err := moved.storage.accounts.UserByEmail(context.Background(), domain.Email(addr))
		if err != nil {
			t.Fatalf("the account %s after the import: %v", addr, err)
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("the account %s differs after the import (-before +after):\n%s", addr, d)
		}
		gotPasskeys, err := moved.storage.accounts.Passkeys(context.Background(), want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(passkeys[addr], gotPasskeys, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("the passkeys of %s differ after the import (-before +after):\n%s", addr, d)
		}
	}
	wantStatus(t, moved.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)
	wantStatus(t, moved.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusOK)
	wantProblem(t, moved.do(t, "POST", "/refresh", map[string]string{"refresh_token": ended}), http.StatusUnauthorized, "invalid_token")
	moved.login(t)
	verify := map[string]string{"email": "pending@example.com", "activation_code": pendingCode}
	wantStatus(t, moved.do(t, "POST", "/verify", verify), http.StatusOK)

	errOut.Reset()
	if code := Main(context.Background(), []string{"import-sqlite", filepath.Join(dir, "auth.db")}, environ(env), &out, &errOut); code == 0 {
		t.Fatal("a second import into a database with accounts succeeded")
	}
	if !strings.Contains(errOut.String(), "already holds accounts") {
		t.Errorf("the refusal does not say why:\n%s", &errOut)
	}
}

// twoStepUser makes an active account with an authenticator app and
// recovery codes turned on.
func (api *testAPI) twoStepUser(t *testing.T, addr string) {
	t.Helper()
	body := map[string]string{"email": addr, "password": password, "first_name": "Two", "last_name": "Step"}
	wantStatus(t, api.do(t, "POST", "/signup", body), http.StatusCreated)
	verify := map[string]string{"email": addr, "activation_code": api.code(t, addr)}
	wantStatus(t, api.do(t, "POST", "/verify", verify), http.StatusOK)
	_, err := api.storage.accounts.UpdateUser(context.Background(), ports.UserEmail(domain.Email(addr)), func(u *domain.User) (ports.Effects, error) {
		u.MFA = domain.MFA{
			TOTPSecret:    []byte("a sealed authenticator secret"),
			TOTPEnabledAt: api.clock.Now().Truncate(time.Millisecond),
			LastTOTPStep:  58_000_123,
			RecoveryCodes: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)},
		}
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// importedPasskey adds a passkey named name to the account of addr, with
// every field set; n tells passkeys apart.
func importedPasskey(t *testing.T, api *testAPI, addr, name string, n byte) domain.Passkey {
	t.Helper()
	u, err := api.storage.accounts.UserByEmail(context.Background(), domain.Email(addr))
	if err != nil {
		t.Fatal(err)
	}
	now := api.clock.Now().Truncate(time.Millisecond)
	p := domain.Passkey{
		ID: "passkey-" + name, UserID: u.ID, CredentialID: []byte{0, 0xff, n}, PublicKey: []byte{0xa5, 1, 2, n},
		AttestationType: "none", AttestationFormat: "none", AAGUID: bytes.Repeat([]byte{n + 1}, 16),
		SignCount: 1<<31 + uint32(n), Transports: []string{"usb", "hybrid"}, Attachment: "cross-platform",
		UserVerified: true, BackupEligible: true, BackupState: true, Name: name,
		CreatedAt: now.Add(time.Duration(n) * time.Second), LastUsedAt: now.Add(time.Hour),
	}
	if err := api.storage.accounts.AddPasskey(context.Background(), p, ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportSQLiteRefusesWhatItCannotDo: the import needs a PostgreSQL
// target, an existing source and the source's signing keys, and says which
// is missing before it copies anything.
func TestImportSQLiteRefusesWhatItCannotDo(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"SQLite target", map[string]string{"AUTH_DATABASE_URL": filepath.Join(dir, "other.db")}, []string{filepath.Join(dir, "auth.db")}, "no PostgreSQL database"},
		{"missing source", map[string]string{"AUTH_DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"}, []string{filepath.Join(dir, "missing.db")}, "missing.db"},
		{"no argument", nil, nil, "takes one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(context.Background(), append([]string{"import-sqlite"}, tt.args...), environ(tt.env), &out, &errOut); code == 0 {
				t.Fatal("exit 0")
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, &errOut)
			}
		})
	}
}
