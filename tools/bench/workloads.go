package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// benchPassword passes the service's password policy (zxcvbn score 2).
const benchPassword = "Vivid-Harbor-Lantern-7319"

// account is a prepared, active account with a live session. The request
// bodies are encoded once, so the load generator spends its CPU on sending.
type account struct {
	email       string
	loginBody   []byte
	refreshBody []byte
	bearer      string // Authorization header value for /me
}

// target builds the requests of every workload against the replicas of
// one database.
type target struct {
	bases    []string // the replicas' base URLs
	accounts []account
}

// base spreads a worker's requests over the replicas in turn, as a
// round-robin load balancer would, starting from a different replica for
// each worker.
func (t *target) base(w *worker) string {
	return t.bases[(w.id+w.n)%len(t.bases)]
}

// pick spreads a worker's requests over the accounts, each account's
// requests over every replica.
func (t *target) pick(w *worker) account {
	return t.accounts[(w.id+w.n/len(t.bases))%len(t.accounts)]
}

func (t *target) me(ctx context.Context, w *worker) (call, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base(w)+"/me", nil)
	if err != nil {
		return call{}, err
	}
	req.Header.Set("Authorization", t.pick(w).bearer)
	return call{req: req, want: http.StatusOK}, nil
}

func (t *target) healthz(ctx context.Context, w *worker) (call, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base(w)+"/healthz", nil)
	return call{req: req, want: http.StatusOK}, err
}

func (t *target) login(ctx context.Context, w *worker) (call, error) {
	return t.post(ctx, t.base(w)+"/login", t.pick(w).loginBody, http.StatusOK)
}

func (t *target) refresh(ctx context.Context, w *worker) (call, error) {
	return t.post(ctx, t.base(w)+"/refresh", t.pick(w).refreshBody, http.StatusOK)
}

// signup returns a request builder that signs up a new address on every
// call; tag keeps the addresses of different workloads apart.
func (t *target) signup(tag string) func(context.Context, *worker) (call, error) {
	return func(ctx context.Context, w *worker) (call, error) {
		email := fmt.Sprintf("load-%s-%d-%d@example.com", tag, w.id, w.n)
		return t.post(ctx, t.base(w)+"/signup", signupBody(email), http.StatusCreated)
	}
}

// The mixed workload's shares, in percent.
const (
	mixMe      = 80
	mixRefresh = 10
	mixLogin   = 5
	mixSignup  = 100 - mixMe - mixRefresh - mixLogin
)

// mixed sends GET /me, refreshes, logins and signups in the mix* shares,
// drawn independently for every request.
func (t *target) mixed() func(context.Context, *worker) (call, error) {
	signup := t.signup("mixed")
	return func(ctx context.Context, w *worker) (call, error) {
		switch r := w.rng.IntN(100); {
		case r < mixMe:
			return t.me(ctx, w)
		case r < mixMe+mixRefresh:
			return t.refresh(ctx, w)
		case r < mixMe+mixRefresh+mixLogin:
			return t.login(ctx, w)
		default:
			return signup(ctx, w)
		}
	}
}

// post builds a POST of a JSON body to url.
func (t *target) post(ctx context.Context, url string, body []byte, want int) (call, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return call{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	return call{req: req, want: want}, nil
}

func signupBody(email string) []byte {
	return mustJSON(map[string]string{
		"email": email, "password": benchPassword, "first_name": "Load", "last_name": "Tester",
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings are encoded here
	}
	return b
}

// exchange sends one request outside any measurement and returns the
// status and body.
func exchange(ctx context.Context, client *http.Client, method, url string, body []byte, header http.Header) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, data, nil
}

// expect sends one request and fails unless it is answered want.
func expect(ctx context.Context, client *http.Client, what string, want int, method, url string, body []byte, header http.Header) ([]byte, error) {
	status, data, err := exchange(ctx, client, method, url, body, header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if status != want {
		return nil, fmt.Errorf("%s: answered %d, want %d: %s", what, status, want, bytes.TrimSpace(data))
	}
	return data, nil
}

// prepareAccounts signs up n accounts whose addresses begin with prefix,
// reads their activation codes from the log mailers' output (mailed, since
// with PostgreSQL any replica on the database may deliver an email),
// activates them and logs each in once, each step on the replicas of bases
// in turn.
func prepareAccounts(ctx context.Context, client *http.Client, bases []string, mailed func() (map[string]string, error), prefix string, n int) ([]account, error) {
	on := func(i int) string { return bases[i%len(bases)] }
	accounts := make([]account, n)
	for i := range accounts {
		email := fmt.Sprintf("%s-%03d@example.com", prefix, i)
		accounts[i].email = email
		if _, err := expect(ctx, client, "prepare: sign up "+email, http.StatusCreated,
			http.MethodPost, on(i)+"/signup", signupBody(email), nil); err != nil {
			return nil, err
		}
	}

	// The outbox delivers the activation emails in the background.
	var codes map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		codes, err = mailed()
		if err != nil {
			return nil, err
		}
		missing := 0
		for _, a := range accounts {
			if codes[a.email] == "" {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("prepare: %d of %d activation emails not in the service log after 30s", missing, n)
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}

	for i := range accounts {
		a := &accounts[i]
		verify := mustJSON(map[string]string{"email": a.email, "activation_code": codes[a.email]})
		if _, err := expect(ctx, client, "prepare: activate "+a.email, http.StatusOK,
			http.MethodPost, on(i)+"/verify", verify, nil); err != nil {
			return nil, err
		}
		a.loginBody = mustJSON(map[string]string{"email": a.email, "password": benchPassword})
		data, err := expect(ctx, client, "prepare: log in "+a.email, http.StatusOK,
			http.MethodPost, on(i+1)+"/login", a.loginBody, nil)
		if err != nil {
			return nil, err
		}
		var tokens struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
		}
		if err := json.Unmarshal(data, &tokens); err != nil || tokens.Access == "" || tokens.Refresh == "" {
			return nil, fmt.Errorf("prepare: log in %s: no tokens in the answer", a.email)
		}
		a.bearer = "Bearer " + tokens.Access
		a.refreshBody = mustJSON(map[string]string{"refresh_token": tokens.Refresh})
	}
	return accounts, nil
}

// The flood's inputs: the longest email an account can have, and names and
// a password as long as signup takes, in four-byte characters.
var (
	floodEmail    = strings.Repeat("a", 58) + "@" + strings.Repeat("b", 185) + ".com" // with a 6-digit prefix, 254 bytes
	floodName     = strings.Repeat("\U0001F984", 100)
	floodPassword = strings.Repeat("\U0001F984", 128)
	floodToken    = strings.Repeat("t", 256)
)

// floodRequest returns a request builder for the flood workload: each
// request is one that fails, with the largest input its route takes, sent
// as if from a new client address through a trusted proxy, to the replicas
// of bases in turn. The status it wants is the failure the route answers
// such a request with.
func floodRequest(bases []string) func(context.Context, *worker) (call, error) {
	t := &target{bases: bases}
	return func(ctx context.Context, w *worker) (call, error) {
		email := fmt.Sprintf("%06d%s", w.rng.IntN(1_000_000), floodEmail)
		var (
			path string
			body any
			want int
		)
		switch r := w.rng.IntN(50); {
		case r == 0:
			path, want = "/login", http.StatusUnauthorized
			body = map[string]string{"email": email, "password": floodPassword}
		case r < 10:
			// Refused by the password policy, after both signup limits.
			path, want = "/signup", http.StatusBadRequest
			body = map[string]string{"email": email, "password": strings.Repeat("password", 16), "first_name": floodName, "last_name": floodName}
		case r < 20:
			path, want = "/verify", http.StatusNotFound
			body = map[string]string{"email": email, "activation_code": "000000"}
		case r < 30:
			path, want = "/resend-activation", http.StatusNotFound
			body = map[string]string{"email": email}
		case r < 40:
			path, want = "/password/forgot", http.StatusAccepted
			body = map[string]string{"email": email}
		default:
			path, want = "/unlock", http.StatusBadRequest
			body = map[string]string{"email": email, "token": floodToken}
		}
		c, err := t.post(ctx, t.base(w)+path, mustJSON(body), want)
		if err != nil {
			return call{}, err
		}
		c.req.Header.Set("X-Forwarded-For", randomAddress(w.rng))
		return c, nil
	}
}

// randomAddress is a random IPv4 address or an address in a random /64.
func randomAddress(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(222), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
	}
	return fmt.Sprintf("2001:db8:%x:%x::%x", rng.IntN(1<<16), rng.IntN(1<<16), 1+rng.IntN(1<<16))
}
