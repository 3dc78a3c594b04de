//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"authapi/internal/testkit"
)

// TestOperatorsAgainstTheBinary is an operator's day on the built binary:
// with no key yet the admin API refuses everything; `authapi admin-keys
// create` makes one while the service runs; the operator finds a locked
// account and unlocks it, disables it, and reads it all back from the audit
// log; revoking the key closes the admin API again.
func TestOperatorsAgainstTheBinary(t *testing.T) {
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	cfg := withDatabase(t, serviceConfig{smtpPort: mail.Port, env: []string{
		// Three wrong passwords from the test's one address lock an
		// account before its slow-down answers 429.
		"AUTH_LOGIN_FREE_FAILURES=10", "AUTH_LOGIN_LOCKOUT_FAILURES=3",
	}})
	svc := startService(t, cfg)
	client := newClient()
	operator := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(testkit.Build(t), args...)
		cmd.Env = []string{
			"AUTH_DATABASE_URL=" + cfg.database,
			"AUTH_SIGNING_KEY_FILE=" + filepath.Join(cfg.dir, "signing-key.pem"),
			"AUTH_SECRET_KEY_FILE=" + filepath.Join(cfg.dir, "secret.key"),
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("authapi %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	admin := func(method, path, key string, body any) result {
		t.Helper()
		var payload []byte
		if body != nil {
			payload, _ = json.Marshal(body)
		}
		req, err := http.NewRequest(method, svc.URL+path, bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		r, err := readResult(res)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want := func(r result, status int, code string) {
		t.Helper()
		if r.status != status || r.problemCode() != code {
			t.Fatalf("answer %d %s, want %d %q", r.status, r.body, status, code)
		}
	}

	const victim, bystander = "victim@example.com", "bystander@example.com"
	activateAccount(t, client, svc.URL, mail, victim)
	activateAccount(t, client, svc.URL, mail, bystander)
	refresh := loginTokens(t, client, svc.URL, victim, testPassword)

	// No key yet: nothing gets in.
	want(admin("GET", "/admin/users", "", nil), http.StatusUnauthorized, "invalid_admin_key")
	want(admin("GET", "/admin/users", "authapi_admin_guessed", nil), http.StatusUnauthorized, "invalid_admin_key")

	out := operator("admin-keys", "create", "ops")
	key := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if !strings.HasPrefix(key, "authapi_admin_") {
		t.Fatalf("admin-keys create printed %q", out)
	}

	var page struct {
		Users []struct {
			ID, Email, State string
		}
	}
	listed := func(query string) []string {
		t.Helper()
		r := admin("GET", "/admin/users?"+query, key, nil)
		want(r, http.StatusOK, "")
		page.Users = nil
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range page.Users {
			emails = append(emails, u.Email+" "+u.State)
		}
		return emails
	}
	if got := listed(""); !slices.Equal(got, []string{victim + " active", bystander + " active"}) {
		t.Fatalf("GET /admin/users = %v", got)
	}
	listed("email=VICTIM")
	id := page.Users[0].ID

	for range 3 {
		res, err := postJSON(client, svc.URL+"/login", map[string]string{"email": victim, "password": "Not-The-Password-1"})
		if err != nil || res.status != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %v %v", res, err)
		}
	}
	if got := listed("state=locked"); !slices.Equal(got, []string{victim + " locked"}) {
		t.Fatalf("locked accounts = %v", got)
	}
	want(admin("POST", "/admin/users/"+url.PathEscape(id)+"/unlock", key, nil), http.StatusOK, "")
	loginTokens(t, client, svc.URL, victim, testPassword)

	want(admin("PATCH", "/admin/users/"+url.PathEscape(id), key, map[string]any{"disabled": true}), http.StatusOK, "")
	res, err := postJSON(client, svc.URL+"/login", map[string]string{"email": victim, "password": testPassword})
	if err != nil {
		t.Fatal(err)
	}
	want(res, http.StatusForbidden, "account_disabled")
	if res, err = postJSON(client, svc.URL+"/refresh", map[string]string{"refresh_token": refresh}); err != nil {
		t.Fatal(err)
	}
	want(res, http.StatusUnauthorized, "invalid_token")
	if got := listed("state=disabled"); !slices.Equal(got, []string{victim + " disabled"}) {
		t.Fatalf("disabled accounts = %v", got)
	}
	loginTokens(t, client, svc.URL, bystander, testPassword)

	// The audit log tells the story, the operator's part by name.
	r := admin("GET", "/admin/audit?limit=200&user_id="+url.QueryEscape(id), key, nil)
	want(r, http.StatusOK, "")
	var audit struct {
		Events []struct {
			Event, Reason, Actor string
		}
	}
	if err := json.Unmarshal([]byte(r.body), &audit); err != nil {
		t.Fatal(err)
	}
	var story []string
	for i := len(audit.Events) - 1; i >= 0; i-- {
		e := audit.Events[i]
		story = append(story, strings.Join(slices.DeleteFunc([]string{e.Event, e.Reason, e.Actor}, func(s string) bool { return s == "" }), " "))
	}
	// The lock is decided as the third attempt is admitted, before its
	// password is found wrong.
	wantStory := []string{"signup", "activation", "login", "login_failed wrong_password", "login_failed wrong_password",
		"lockout", "login_failed wrong_password", "unlock admin:ops", "login", "account_disabled admin:ops", "login_failed disabled"}
	if !slices.Equal(story, wantStory) {
		t.Errorf("the victim's story =\n%q\nwant\n%q", story, wantStory)
	}
	r = admin("GET", "/admin/audit?event=admin_key_created", key, nil)
	if !regexp.MustCompile(`"event":"admin_key_created","reason":"ops","actor":"cli"`).MatchString(r.body) {
		t.Errorf("the key's creation is not in the log: %s", r.body)
	}

	operator("admin-keys", "revoke", "ops")
	want(admin("GET", "/admin/users", key, nil), http.StatusUnauthorized, "invalid_admin_key")
	if strings.Contains(svc.Log(), strings.TrimPrefix(key, "authapi_admin_")) {
		t.Error("the admin key appears in the service's log")
	}
	svc.Stop(t)
}
