package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// The operators' commands, `authapi admin-keys` and `authapi users`, run
// through Main, as main runs them, on the database of a test API: what they
// do shows through the HTTP API and in the audit log.

// cli runs `authapi ARGS` with the test API's settings.
func (api *testAPI) cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := map[string]string{
		"AUTH_SIGNING_KEY_FILE": api.config.SigningKeyFile,
		"AUTH_SECRET_KEY_FILE":  api.config.SecretKeyFile,
		"AUTH_DATABASE_URL":     api.database.Path,
	}
	if api.database.Postgres() {
		env["AUTH_DATABASE_URL"] = api.database.URL
	}
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, environ(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustCLI runs `authapi ARGS` and fails the test unless it exits 0.
func (api *testAPI) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := api.cli(t, args...)
	if code != 0 {
		t.Fatalf("authapi %s exited %d:\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// cliEvents reads the events of typ with the command line as their actor.
func (api *testAPI) cliEvents(t *testing.T, key string, typ domain.EventType) []map[string]any {
	t.Helper()
	var byCLI []map[string]any
	for _, e := range api.auditEvents(t, key, "event="+string(typ)) {
		if e["actor"] == domain.ActorCLI {
			byCLI = append(byCLI, e)
		}
	}
	return byCLI
}

var adminKeyLine = regexp.MustCompile(`^` + domain.AdminKeyPrefix + `[A-Za-z0-9_-]{43}\n`)

func TestAdminKeysCommands(t *testing.T) {
	api := newTestAPI(t)
	id := api.newAccount(t, email)

	out := api.mustCLI(t, "admin-keys", "create", adminKeyName)
	if !adminKeyLine.MatchString(out) {
		t.Fatalf("admin-keys create printed %q, want the key on its first line", out)
	}
	key := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	wantStatus(t, api.asAdmin(t, key, "GET", "/admin/users/"+id, nil), http.StatusOK)

	// Only the key's hash is kept.
	var hash []byte
	if err := openAsTool(t, api).QueryRowContext(t.Context(), "SELECT hash FROM admin_keys WHERE name = 'ops'").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(key)); !bytes.Equal(hash, sum[:]) {
		t.Errorf("stored hash %x, want the key's SHA-256", hash)
	}
	for _, column := range []string{"name", "hash"} {
		for _, v := range queryStrings(t, api, "SELECT "+column+" FROM admin_keys") {
			if strings.Contains(v, strings.TrimPrefix(key, domain.AdminKeyPrefix)) {
				t.Errorf("admin_keys.%s holds the key", column)
			}
		}
	}

	second := api.mustCLI(t, "admin-keys", "create", "--name", "deploy-bot")
	list := api.mustCLI(t, "admin-keys", "list")
	if !regexp.MustCompile(`(?m)^NAME\s+CREATED\s+REVOKED\n(deploy-bot|ops)\s+\S+Z\s+-\n(deploy-bot|ops)\s+\S+Z\s+-\n$`).MatchString(list) {
		t.Errorf("admin-keys list =\n%s", list)
	}
	for _, k := range []string{key, second[:len(domain.AdminKeyPrefix)+43]} {
		if strings.Contains(list, strings.TrimPrefix(k, domain.AdminKeyPrefix)) {
			t.Error("admin-keys list shows a key")
		}
	}

	out = api.mustCLI(t, "admin-keys", "revoke", adminKeyName)
	if !strings.Contains(out, `revoked the admin key "ops"`) {
		t.Errorf("admin-keys revoke printed %q", out)
	}
	wantAdminRefusal(t, api.asAdmin(t, key, "GET", "/admin/users/"+id, nil))
	if list := api.mustCLI(t, "admin-keys", "list"); !regexp.MustCompile(`(?m)^ops\s+\S+Z\s+\S+Z$`).MatchString(list) {
		t.Errorf("after the revocation admin-keys list =\n%s", list)
	}

	refusals := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"a name taken", []string{"create", "deploy-bot"}, 1, "names are never reused"},
		{"the name of a revoked key", []string{"create", "ops"}, 1, "names are never reused"},
		{"a name with a space", []string{"create", "has space"}, 1, "name may hold only lower-case letters"},
		{"an upper-case name", []string{"create", "Ops"}, 1, "name may hold only lower-case letters"},
		{"no name", []string{"create"}, 2, "takes one argument, NAME"},
		{"two names", []string{"create", "a", "b"}, 2, "takes one argument, NAME"},
		{"a name and --name", []string{"create", "a", "--name", "b"}, 2, "takes one argument, NAME"},
		{"--name without a value", []string{"create", "--name"}, 2, "--name needs a value"},
		{"revoke an unknown key", []string{"revoke", "nobody"}, 1, "no admin key has this name"},
		{"revoke with no name", []string{"revoke"}, 2, "takes one argument, NAME"},
		{"list with an argument", []string{"list", "ops"}, 2, "takes no arguments"},
		{"an unknown subcommand", []string{"frobnicate"}, 2, "admin-keys takes a subcommand"},
		{"no subcommand", nil, 2, "admin-keys takes a subcommand"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := api.cli(t, append([]string{"admin-keys"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
			if strings.Contains(stdout, domain.AdminKeyPrefix) {
				t.Errorf("a refused command printed a key: %q", stdout)
			}
		})
	}

	// The command line's actions are in the audit log, as the command
	// line's.
	other := api.createAdminKey(t, "reader")
	created := api.cliEvents(t, other, domain.EventAdminKeyCreated)
	revoked := api.cliEvents(t, other, domain.EventAdminKeyRevoked)
	var names []string
	for _, e := range created {
		names = append(names, e["reason"].(string))
	}
	if strings.Join(names, " ") != "reader deploy-bot ops" || len(revoked) != 1 || revoked[0]["reason"] != adminKeyName {
		t.Errorf("key events: created %v, revoked %v", created, revoked)
	}
}

// TestOperatorCommandsHelp: --help prints the group's subcommands and
// exits 0, as the README tells operators to type.
func TestOperatorCommandsHelp(t *testing.T) {
	api := newTestAPI(t)
	tests := []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"users", "--help"}, []string{"authapi users list", "authapi users show", "authapi users disable", "authapi users enable",
			"authapi users reset-mfa", "authapi users unlock", "authapi users revoke-sessions", "authapi users delete"}},
		{[]string{"users", "-h"}, []string{"authapi users list"}},
		{[]string{"users", "help"}, []string{"authapi users list"}},
		{[]string{"admin-keys", "--help"}, []string{"authapi admin-keys create", "authapi admin-keys list", "authapi admin-keys revoke"}},
		{[]string{"admin-keys", "-help"}, []string{"authapi admin-keys create"}},
		{[]string{"users", "list", "--help"}, []string{"AUTH_DATABASE_URL"}},
		{[]string{"admin-keys", "create", "--help"}, []string{"AUTH_DATABASE_URL"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := api.cli(t, tt.args...)
			if code != 0 {
				t.Errorf("exit %d, want 0; stderr %q", code, stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
	// No command ran: no key was made.
	if keys := queryStrings(t, api, "SELECT name FROM admin_keys"); len(keys) != 0 {
		t.Errorf("admin keys after --help: %v", keys)
	}
}

func TestUsersCommands(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	ann := api.newAccount(t, "ann@example.com")
	pending := api.pendingAccount(t, "pending@example.com")

	t.Run("list", func(t *testing.T) {
		out := api.mustCLI(t, "users", "list")
		for _, row := range []string{id + `\s+` + email + `\s+active\s+\S+Z\s+-`, ann + `\s+ann@example.com\s+active`, pending + `\s+pending@example.com\s+inactive`} {
			if !regexp.MustCompile(`(?m)^` + row).MatchString(out) {
				t.Errorf("users list lacks a row %s:\n%s", row, out)
			}
		}
		if out := api.mustCLI(t, "users", "list", "--email", "ANN", "--state=active"); !strings.Contains(out, ann) || strings.Contains(out, id) {
			t.Errorf("users list --email ANN --state=active =\n%s", out)
		}
		out = api.mustCLI(t, "users", "list", "--limit", "1")
		if !strings.Contains(out, id) || strings.Contains(out, ann) || !strings.Contains(out, "# more: add --after "+id) {
			t.Errorf("users list --limit 1 =\n%s", out)
		}
		if out := api.mustCLI(t, "users", "list", "--limit", "1", "--after", id); !strings.Contains(out, ann) || strings.Contains(out, id+" ") {
			t.Errorf("users list --after =\n%s", out)
		}
	})

	refusals := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"limit 0", []string{"list", "--limit", "0"}, 1, "limit must be a whole number from 1 to 200"},
		{"a negative limit", []string{"list", "--limit=-1"}, 1, "limit must be a whole number from 1 to 200"},
		{"a limit that is no number", []string{"list", "--limit", "ten"}, 1, "limit must be a whole number from 1 to 200"},
		{"a limit over the largest", []string{"list", "--limit", "201"}, 1, "limit must be a whole number from 1 to 200"},
		{"an unknown state", []string{"list", "--state", "frozen"}, 1, "state must be active, inactive, disabled or locked"},
		{"an option without its value", []string{"list", "--email"}, 2, "--email needs a value"},
		{"an unknown option", []string{"list", "--colour", "red"}, 2, "colour"},
		{"show nobody", []string{"show", "nobody@example.com"}, 1, "no account"},
		{"disable an unknown id", []string{"disable", "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"}, 1, "no account"},
		{"delete nobody", []string{"delete", "nobody@example.com"}, 1, "no account"},
		{"show without an account", []string{"show"}, 2, "takes one argument, ID|EMAIL"},
		{"unlock two accounts", []string{"unlock", email, "ann@example.com"}, 2, "takes one argument, ID|EMAIL"},
		{"an unknown subcommand", []string{"purge"}, 2, "users takes a subcommand"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := api.cli(t, append([]string{"users"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}

	t.Run("show", func(t *testing.T) {
		api.login(t)
		api.login(t)
		out := api.mustCLI(t, "users", "show", "ASTRO.user@example.com")
		for _, line := range []string{`id:\s+` + id, `email:\s+` + email, `name:\s+Test User`, `state:\s+active`, `locked until:\s+-`,
			`created:\s+\S+Z`, `last login:\s+\S+Z`, `live sessions:\s+2`} {
			if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(out) {
				t.Errorf("users show lacks %s:\n%s", line, out)
			}
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		_, refresh := api.login(t)
		out := api.mustCLI(t, "users", "disable", email)
		if !regexp.MustCompile(`(?m)^state:\s+disabled$`).MatchString(out) || !regexp.MustCompile(`(?m)^live sessions:\s+0$`).MatchString(out) {
			t.Errorf("users disable =\n%s", out)
		}
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
		wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "account_disabled")
		if out := api.mustCLI(t, "users", "enable", id); !regexp.MustCompile(`(?m)^state:\s+active$`).MatchString(out) {
			t.Errorf("users enable =\n%s", out)
		}
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
		api.login(t)
	})

	t.Run("unlock", func(t *testing.T) {
		api.guessPasswords(t, "ann@example.com", 10, 0)
		wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": "ann@example.com", "password": password}), http.StatusForbidden, "account_locked")
		if out := api.mustCLI(t, "users", "show", ann); !regexp.MustCompile(`(?m)^state:\s+locked$`).MatchString(out) {
			t.Errorf("users show of a locked account =\n%s", out)
		}
		if out := api.mustCLI(t, "users", "unlock", "ann@example.com"); !strings.Contains(out, "lifted the login lock of ann@example.com") {
			t.Errorf("users unlock printed %q", out)
		}
		api.loginAs(t, "ann@example.com", password)
	})

	t.Run("reset-mfa", func(t *testing.T) {
		_, err := api.storage.accounts.UpdateUser(t.Context(), ports.UserID(ann), func(u *domain.User) (ports.Effects, error) {
			u.MFA = domain.MFA{TOTPSecret: []byte("sealed secret"), TOTPEnabledAt: u.CreatedAt}
			return ports.Effects{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": "ann@example.com", "password": password}), http.StatusForbidden, "mfa_required")
		api.mustCLI(t, "users", "reset-mfa", ann)
		api.loginAs(t, "ann@example.com", password)
		// The command queued the notice at the time of the machine's
		// clock, which the test API's clock has not reached.
		api.clock.Set(time.Now().Add(time.Minute))
		api.deliverMail(t)
		if mails := api.mailer.mailsTo("ann@example.com"); !strings.Contains(mails[len(mails)-1].Subject, "wo-step") {
			t.Errorf("the owner was not told: last email %q", mails[len(mails)-1].Subject)
		}
	})

	t.Run("revoke-sessions", func(t *testing.T) {
		_, first := api.login(t)
		out := api.mustCLI(t, "users", "revoke-sessions", email)
		if !regexp.MustCompile(`^ended [1-9]\d* session\(s\) of ` + email + `\n$`).MatchString(out) {
			t.Errorf("users revoke-sessions printed %q", out)
		}
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": first}), http.StatusUnauthorized, "invalid_token")
	})

	t.Run("delete", func(t *testing.T) {
		if out := api.mustCLI(t, "users", "delete", id); out != "deleted "+id+"\n" {
			t.Errorf("users delete printed %q", out)
		}
		wantProblem(t, api.asAdmin(t, key, "GET", "/admin/users/"+id, nil), http.StatusNotFound, "user_not_found")
		wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusUnauthorized, "invalid_credentials")
	})

	t.Run("every action is in the audit log", func(t *testing.T) {
		for _, want := range []struct {
			typ  domain.EventType
			user string
		}{
			{domain.EventAccountDisabled, id}, {domain.EventAccountEnabled, id}, {domain.EventUnlock, ann},
			{domain.EventMFADisabled, ann}, {domain.EventSessionsRevoked, id}, {domain.EventAccountDeleted, id},
		} {
			events := api.cliEvents(t, key, want.typ)
			if len(events) != 1 || events[0]["user_id"] != want.user {
				t.Errorf("%s by the command line: %v, want one for %s", want.typ, events, want.user)
			}
		}
	})
}
