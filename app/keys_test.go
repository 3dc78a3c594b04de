package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/adapters/keyfile"
	"authapi/adapters/postgres"
	"authapi/adapters/token"
	"authapi/internal/testkit"
	"authapi/ports"
)

// runKeys runs `authapi keys ARGS` through Main.
func runKeys(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"keys"}, args...), environ(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

// keysSetup is the environment of a service of the test's own and of its
// `authapi keys` commands: a SQLite database with its key file, or, when
// the suite runs on PostgreSQL, a database whose key set lives in it.
type keysSetup struct {
	env map[string]string
}

func newKeysSetup(t *testing.T) keysSetup {
	t.Helper()
	dir := t.TempDir()
	db := testDatabase(t, dir)
	url := db.Path
	if db.Postgres() {
		url = db.URL
	}
	return keysSetup{env: map[string]string{
		"AUTH_DATABASE_URL":     url,
		"AUTH_SIGNING_KEY_FILE": filepath.Join(dir, "signing.pem"),
		"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
	}}
}

// store opens the key store the service of the setup uses.
func (k keysSetup) store(t *testing.T) ports.KeyStore {
	t.Helper()
	cfg, _, err := parseConfig(nil, envOf(k.env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	store, _, closeStore, err := openKeyStore(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	return store
}

// seed replaces the key set with keys, as an earlier run would have left it.
func (k keysSetup) seed(t *testing.T, keys ...ports.SigningKey) {
	t.Helper()
	err := k.store(t).UpdateSigningKeys(context.Background(), func([]ports.SigningKey) ([]ports.SigningKey, error) { return keys, nil })
	if err != nil {
		t.Fatal(err)
	}
}

// kids returns the kids of the key set, oldest first.
func (k keysSetup) kids(t *testing.T) []string {
	t.Helper()
	keys, err := k.store(t).SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return thumbprints(t, keys)
}

// apply points the service at the setup's database and keys.
func (k keysSetup) apply(c *Config) {
	db := Database{Path: k.env["AUTH_DATABASE_URL"]}
	if postgres.IsURL(db.Path) {
		db = Database{URL: db.Path}
	}
	c.Database = db
	c.SigningKeyFile = k.env["AUTH_SIGNING_KEY_FILE"]
	c.SecretKeyFile = k.env["AUTH_SECRET_KEY_FILE"]
}

// newKey makes a signing key created at created that signs from activeFrom.
func newKey(t *testing.T, created, activeFrom time.Time) ports.SigningKey {
	t.Helper()
	k, err := keyfile.GenerateSigningKey(rand.Reader, created, activeFrom)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyIDs(t *testing.T, path string) []string {
	t.Helper()
	keys, err := keyfile.ReadSigningKeys(path)
	if err != nil {
		t.Fatalf("ReadSigningKeys: %v", err)
	}
	return thumbprints(t, keys)
}

func thumbprints(t *testing.T, keys []ports.SigningKey) []string {
	t.Helper()
	kids := make([]string, len(keys))
	for i, k := range keys {
		kid, err := token.Thumbprint(&k.Private.PublicKey)
		if err != nil {
			t.Fatalf("Thumbprint: %v", err)
		}
		kids[i] = kid
	}
	return kids
}

// tokenKid returns the kid in a JWT's header.
func tokenKid(t *testing.T, jwt string) string {
	t.Helper()
	header, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatalf("decode token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.Kid
}

func TestKeysRotateCommand(t *testing.T) {
	setup := newKeysSetup(t)
	setup.seed(t, newKey(t, time.Now(), time.Now()))
	before := setup.kids(t)

	code, stdout, stderr := runKeys(t, setup.env, "rotate")
	if code != 0 {
		t.Fatalf("keys rotate: exit %d, stderr %s", code, stderr)
	}
	after := setup.kids(t)
	if len(after) != 2 || after[0] != before[0] {
		t.Fatalf("the key set holds %v after rotation, want %v followed by a new key", after, before)
	}
	if !strings.Contains(stdout, "added signing key "+after[1]) || !strings.Contains(stdout, "signs with it from ") {
		t.Errorf("stdout does not name the new kid %s and when it signs:\n%s", after[1], stdout)
	}
	if path := setup.env["AUTH_SIGNING_KEY_FILE"]; !testkit.OnPostgres() {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode = %o, want 600", got)
		}
	}

	// Flags may follow the subcommand, as with the other commands.
	listEnv := maps.Clone(setup.env)
	delete(listEnv, "AUTH_SIGNING_KEY_FILE")
	code, stdout, stderr = runKeys(t, listEnv, "list", "--signing-key-file", setup.env["AUTH_SIGNING_KEY_FILE"])
	if code != 0 {
		t.Fatalf("keys list: exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("keys list printed %d lines, want a header and 2 keys:\n%s", len(lines), stdout)
	}
	// The new key is published first and signs after the activation
	// delay, so the running service's key still signs.
	for i, want := range []string{"signing", "next, signs from "} {
		if line := lines[i+1]; !strings.HasPrefix(line, after[i]+" ") || !strings.Contains(line, want) {
			t.Errorf("line for key %d = %q, want kid %s and %q", i+1, line, after[i], want)
		}
	}
	if strings.Contains(stdout, "PRIVATE") || strings.Contains(stderr, "PRIVATE") {
		t.Error("key material was printed")
	}
}

func TestKeysCommandErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbled := filepath.Join(dir, "garbled.pem")
	if err := os.WriteFile(garbled, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(dir, "future.pem")
	inAnHour := time.Now().Add(time.Hour)
	if err := keyfile.NewStore(future).UpdateSigningKeys(context.Background(), func([]ports.SigningKey) ([]ports.SigningKey, error) {
		return []ports.SigningKey{newKey(t, inAnHour, inAnHour)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		keyFile    string
		wantCode   int
		wantStderr string
	}{
		{"no subcommand", nil, missing, 2, "subcommand"},
		{"unknown subcommand", []string{"delete"}, missing, 2, "subcommand"},
		{"extra argument", []string{"list", "now"}, missing, 2, "no arguments"},
		{"bad setting", []string{"rotate", "--access-token-ttl", "soon"}, missing, 2, "AUTH_ACCESS_TOKEN_TTL"},
		{"rotate without a key file", []string{"rotate"}, missing, 1, "no signing key"},
		{"list without a key file", []string{"list"}, missing, 1, "no signing key"},
		{"rotate a garbled key file", []string{"rotate"}, garbled, 1, "unexpected text"},
		{"rotate with the clock behind the newest key", []string{"rotate"}, future, 1, "check the clock"},
		{"help", []string{"rotate", "--help"}, missing, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runKeys(t, map[string]string{"AUTH_SIGNING_KEY_FILE": tt.keyFile}, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to mention %q", stderr, tt.wantStderr)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Error("a keys command created the missing key file")
			}
		})
	}
}

// A rotation reaches the running service without a restart: at the next
// reload it publishes the new key, it signs with it once the activation
// delay has passed, and the tokens of the old key stay valid.
func TestRotationReachesTheRunningService(t *testing.T) {
	setup := newKeysSetup(t)
	running := newTestAPI(t, setup.apply)
	running.activeUser(t)
	oldAccess, oldRefresh := running.login(t)
	oldKid := tokenKid(t, oldAccess)

	if code, _, stderr := runKeys(t, setup.env, "rotate"); code != 0 {
		t.Fatalf("keys rotate: exit %d, stderr %s", code, stderr)
	}
	kids := setup.kids(t)
	newKid := kids[len(kids)-1]
	if err := running.keys.reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, running); !slices.Equal(got, sorted(oldKid, newKid)) {
		t.Errorf("after the reload the JWKS publishes %v, want both keys %v", got, sorted(oldKid, newKid))
	}
	beforeDelay, _ := running.login(t)
	if got := tokenKid(t, beforeDelay); got != oldKid {
		t.Errorf("before the activation delay tokens are signed by %s, want the old key %s", got, oldKid)
	}

	// The command dated the key by the wall clock, a moment after this
	// clock started, and to the second; a little more than the delay is
	// past it whatever the rounding.
	running.clock.Advance(DefaultConfig().KeyActivationDelay + 2*time.Second)
	if err := running.keys.reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, running.do(t, "GET", "/me", nil, "Authorization", "Bearer "+oldAccess), http.StatusOK)
	res := running.do(t, "POST", "/refresh", map[string]string{"refresh_token": oldRefresh})
	wantStatus(t, res, http.StatusOK)
	if access, _ := res.body["access_token"].(string); tokenKid(t, access) != newKid {
		t.Errorf("refreshed access token kid = %s, want the new key %s", tokenKid(t, access), newKid)
	}
	newAccess, _ := running.login(t)
	if got := tokenKid(t, newAccess); got != newKid {
		t.Errorf("after the activation delay tokens are signed by %s, want the new key %s", got, newKid)
	}
	if !strings.Contains(running.logs.String(), "signing keys reloaded") {
		t.Errorf("the reload was not logged:\n%s", running.logs)
	}
}

// jwksKids returns the kids of the service's JWKS, sorted.
func jwksKids(t *testing.T, api *testAPI) []string {
	t.Helper()
	res := api.do(t, "GET", "/.well-known/jwks.json", nil)
	wantStatus(t, res, http.StatusOK)
	var kids []string
	keys, _ := res.body["keys"].([]any)
	for _, k := range keys {
		kid, _ := k.(map[string]any)["kid"].(string)
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	return kids
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// A key whose tokens have all expired is left out at start and removed by
// the next rotation.
func TestRetiredKeyIsIgnoredThenRemoved(t *testing.T) {
	setup := newKeysSetup(t)
	lifetime := 720 * time.Hour // the default refresh token lifetime
	created := time.Now().Add(-2 * lifetime)
	setup.seed(t, newKey(t, created, created), newKey(t, created.Add(time.Hour), created.Add(time.Hour)))
	kids := setup.kids(t)
	retiredKid, liveKid := kids[0], kids[1]

	api := newTestAPI(t, setup.apply)
	res := api.do(t, "GET", "/.well-known/jwks.json", nil)
	wantStatus(t, res, http.StatusOK)
	keys, _ := res.body["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["kid"] != liveKid {
		t.Errorf("JWKS = %s, want only the live key %s", res.Body, liveKid)
	}
	if logs := api.logs.String(); !strings.Contains(logs, "retired") || !strings.Contains(logs, retiredKid) {
		t.Errorf("no warning about the retired key %s:\n%s", retiredKid, logs)
	}

	code, stdout, stderr := runKeys(t, setup.env, "rotate")
	if code != 0 {
		t.Fatalf("keys rotate: exit %d, stderr %s", code, stderr)
	}
	if !strings.Contains(stdout, "removed retired key "+retiredKid) {
		t.Errorf("stdout does not report removing %s:\n%s", retiredKid, stdout)
	}
	after := setup.kids(t)
	if len(after) != 2 || after[0] != liveKid || slices.Contains(after, retiredKid) {
		t.Errorf("the key set holds %v, want %s and a new key", after, liveKid)
	}
}

func TestConfigAudience(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"defaults to the public URL", nil, "http://localhost:8080", false},
		{"follows the public URL", map[string]string{"AUTH_PUBLIC_URL": "https://auth.example.com/base/"}, "https://auth.example.com/base", false},
		{"set explicitly", map[string]string{"AUTH_AUDIENCE": "https://api.example.com"}, "https://api.example.com", false},
		{"not a URL", map[string]string{"AUTH_AUDIENCE": "billing-service"}, "billing-service", false},
		{"with a space", map[string]string{"AUTH_AUDIENCE": "two words"}, "", true},
		{"with a control character", map[string]string{"AUTH_AUDIENCE": "api\x00"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseConfig(nil, envOf(tt.env), io.Discard)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AUTH_AUDIENCE") {
					t.Errorf("err = %v, want one naming AUTH_AUDIENCE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.audience(); got != tt.want {
				t.Errorf("audience = %q, want %q", got, tt.want)
			}
		})
	}
}

// Tokens carry the configured audience, and a service with another audience
// refuses them.
func TestAudienceIsChecked(t *testing.T) {
	setup := newKeysSetup(t)
	api := newTestAPI(t, setup.apply, func(c *Config) { c.Audience = "https://api.example.com" })
	api.activeUser(t)
	access, _ := api.login(t)
	_, payload, _ := strings.Cut(access, ".")
	payload, _, _ = strings.Cut(payload, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Aud, []string{"https://api.example.com"}) {
		t.Errorf("aud = %v, want [https://api.example.com]", claims.Aud)
	}
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)

	other := newTestAPI(t, setup.apply, func(c *Config) { c.Audience = "https://other.example.com" })
	wantProblem(t, other.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusUnauthorized, "invalid_token")
}

// A key that signs only from a later time is listed as next, with that time.
func TestKeysListShowsNextKey(t *testing.T) {
	setup := newKeysSetup(t)
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	signsFrom := created.Add(48 * time.Hour)
	setup.seed(t, newKey(t, created, created), newKey(t, created, signsFrom))
	kids := setup.kids(t)

	code, stdout, stderr := runKeys(t, setup.env, "list")
	if code != 0 {
		t.Fatalf("keys list: exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("keys list printed %d lines, want a header and 2 keys:\n%s", len(lines), stdout)
	}
	for i, want := range []string{"signing", "next, signs from " + signsFrom.Format(time.RFC3339)} {
		if line := lines[i+1]; !strings.HasPrefix(line, kids[i]+" ") || !strings.HasSuffix(line, want) {
			t.Errorf("line for key %d = %q, want kid %s and state %q", i+1, line, kids[i], want)
		}
	}
}

// A rotated key signs no sooner than the activation delay after the
// rotation, although the key stores keep whole seconds: the delay is what
// every replica has to load the key before tokens of it reach them, so
// rounding may lengthen it but never shorten it.
func TestRotatedKeySignsAfterTheWholeDelay(t *testing.T) {
	setup := newKeysSetup(t)
	cfg, _, err := parseConfig(nil, envOf(map[string]string{"AUTH_KEY_ACTIVATION_DELAY": "3s", "AUTH_KEYS_RELOAD_INTERVAL": "1s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	setup.seed(t, newKey(t, start, start))
	store := setup.store(t)
	for i, fraction := range []time.Duration{0, time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond} {
		now := start.Add(time.Duration(i+1)*time.Minute + fraction)
		added, _, err := rotateKeys(context.Background(), cfg, store, now, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(cfg.KeyActivationDelay); added.ActiveFrom.Before(want) || added.ActiveFrom.Sub(want) >= time.Second {
			t.Errorf("a key rotated at %s signs from %s, want the first whole second from %s",
				now.Format(time.RFC3339Nano), added.ActiveFrom.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
}

// A signing key file that others may read or write stops the service and
// the keys commands with one line that says how to fix it.
func TestSigningKeyFileReadableByOthers(t *testing.T) {
	tests := []struct {
		name string
		args []string
		perm os.FileMode
	}{
		{"serve, 0644", nil, 0o644},
		{"serve, 0640", nil, 0o640},
		{"keys list, 0644", []string{"keys", "list"}, 0o644},
		{"keys list, 0640", []string{"keys", "list"}, 0o640},
		{"keys rotate, 0644", []string{"keys", "rotate"}, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if err := keyfile.NewStore(path).UpdateSigningKeys(context.Background(), func([]ports.SigningKey) ([]ports.SigningKey, error) {
				return []ports.SigningKey{newKey(t, time.Now(), time.Now())}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.perm); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			env := environ(map[string]string{
				"AUTH_ADDR":             "127.0.0.1:0",
				"AUTH_DATABASE_URL":     filepath.Join(dir, "auth.db"),
				"AUTH_SIGNING_KEY_FILE": path,
				"AUTH_SECRET_KEY_FILE":  filepath.Join(dir, "secret.key"),
			})
			// Were the file accepted, serve would run until this deadline
			// and then return 0.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := Main(ctx, tt.args, env, &stdout, &stderr)
			if code == 0 {
				t.Fatalf("exit code 0, want a refusal; stderr:\n%s", stderr.String())
			}
			if ctx.Err() != nil {
				t.Errorf("refused only after %v", 10*time.Second)
			}
			var fix []string
			for line := range strings.Lines(stderr.String()) {
				if strings.Contains(line, "chmod 600") {
					fix = append(fix, line)
				}
			}
			if len(fix) != 1 || !strings.Contains(fix[0], "has mode 0"+strconv.FormatUint(uint64(tt.perm), 8)) {
				t.Errorf("stderr has %d lines saying `chmod 600`, want one naming the mode %04o:\n%s", len(fix), tt.perm, stderr.String())
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("the key file was changed (%v)", err)
			}
		})
	}
}

// TestScheduledRotationMakesOneKeyForTheFleet: replicas that rotate on a
// schedule and find a rotation due at the same moment make one new key
// between them, not one each.
func TestScheduledRotationMakesOneKeyForTheFleet(t *testing.T) {
	setup := newKeysSetup(t)
	const interval = 720 * time.Hour
	onSchedule := func(c *Config) { c.KeyRotationInterval = interval }
	replicas := []*testAPI{newTestAPI(t, setup.apply, onSchedule), newTestAPI(t, setup.apply, onSchedule), newTestAPI(t, setup.apply, onSchedule)}
	if kids := setup.kids(t); len(kids) != 1 {
		t.Fatalf("the replicas started with %d keys, want the one the first made", len(kids))
	}
	for _, r := range replicas {
		r.clock.Advance(interval + time.Minute)
	}
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() {
			if err := r.keys.reload(context.Background()); err != nil {
				t.Errorf("reload: %v", err)
			}
		})
	}
	wg.Wait()
	if kids := setup.kids(t); len(kids) != 2 {
		t.Errorf("after the replicas found a rotation due together the set holds %d keys, want 2", len(kids))
	}
	rotated := 0
	for _, r := range replicas {
		rotated += strings.Count(r.logs.String(), "rotated the signing keys on schedule")
	}
	if rotated != 1 {
		t.Errorf("%d replicas logged a scheduled rotation, want 1", rotated)
	}
}
