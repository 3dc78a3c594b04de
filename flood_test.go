//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// gcLine is the summary the Go runtime prints for each collection under
// GODEBUG=gctrace=1; the third heap size is what the collection found live.
var gcLine = regexp.MustCompile(`gc \d+ @[0-9.]+s [0-9]+%: .* (\d+)->(\d+)->(\d+) MB`)

// maxLiveHeap returns the largest live heap, in bytes, of the collections
// logged in log.
func maxLiveHeap(log string) (int64, int) {
	var peak int64
	matches := gcLine.FindAllStringSubmatch(log, -1)
	for _, m := range matches {
		live, _ := strconv.ParseInt(m[3], 10, 64)
		peak = max(peak, live<<20)
	}
	return peak, len(matches)
}

// memoryLimitLine is the start-up log line that states the soft memory
// limit the service gives the Go runtime.
var memoryLimitLine = regexp.MustCompile(`"msg":"memory limit","mib":(\d+)`)

// TestFloodOfFailedRequestsKeepsTheHeapBounded sends thousands of failed
// requests with the largest inputs each route takes, from as many client
// addresses, over every limited route, and holds the live heap of the built
// binary under the memory limit it sets itself: its own 34 MiB and room for
// two password hashes per core (one in flight and one starting while a
// collection runs). No client input may become limiter state of its own
// size, and the limiter's state is bounded however many clients there are.
func TestFloodOfFailedRequestsKeepsTheHeapBounded(t *testing.T) {
	svc := startService(t, serviceConfig{smtpPort: mailServerDown(t), env: []string{
		"GODEBUG=gctrace=1",
		"AUTH_TRUSTED_PROXIES=127.0.0.1",
		// The limits as shipped: the harness turns some off.
		"AUTH_LIMIT_SIGNUP_PER_IP=20/1m", "AUTH_LIMIT_SIGNUP_PER_EMAIL=5/1h",
		"AUTH_LIMIT_VERIFY_PER_IP=30/1m", "AUTH_LIMIT_LOGIN_PER_IP=30/1m",
		"AUTH_FORGOT_PASSWORD_MIN_DURATION=0s",
	}})

	longest := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" // 254 bytes
	name := strings.Repeat("\U0001F984", 100)
	password := strings.Repeat("\U0001F984", 128)
	email := func(i int) string { return fmt.Sprintf("%06d", i) + longest[6:] }
	routes := []struct {
		path  string
		count int
		body  func(i int) map[string]string
	}{
		// Refused by the password policy, after both signup limits.
		{"/signup", 1200, func(i int) map[string]string {
			return map[string]string{"email": email(i), "password": strings.Repeat("password", 16), "first_name": name, "last_name": name}
		}},
		{"/verify", 1200, func(i int) map[string]string {
			return map[string]string{"email": email(i), "activation_code": "000000"}
		}},
		{"/resend-activation", 1200, func(i int) map[string]string { return map[string]string{"email": email(i)} }},
		{"/password/forgot", 1200, func(i int) map[string]string { return map[string]string{"email": email(i)} }},
		{"/unlock", 1200, func(i int) map[string]string {
			return map[string]string{"email": email(i), "token": strings.Repeat("t", 256)}
		}},
		// These hash a password each, like a real one: fewer of them.
		{"/login", 150, func(i int) map[string]string { return map[string]string{"email": email(i), "password": password} }},
		{"/password/reset", 150, func(i int) map[string]string {
			return map[string]string{"email": email(i), "code": "000000", "new_password": "Vivid-Harbor-Lantern-7319"}
		}},
		// Over the length any account can have: refused before any limit.
		{"/login", 300, func(i int) map[string]string {
			return map[string]string{"email": strings.Repeat("x", 7000), "password": "x"}
		}},
	}
	// Bodies as large as a client may try, 64 KiB of email, on every route.
	for _, path := range []string{"/signup", "/verify", "/resend-activation", "/password/forgot", "/unlock", "/login", "/password/reset"} {
		routes = append(routes, struct {
			path  string
			count int
			body  func(i int) map[string]string
		}{path, 300, func(i int) map[string]string {
			return map[string]string{"email": fmt.Sprintf("%06d", i) + strings.Repeat("x", 64<<10) + "@example.com",
				"password": "x", "activation_code": "000000", "code": "000000", "new_password": "x", "token": "t",
				"first_name": "A", "last_name": "B"}
		}})
	}
	type job struct {
		path string
		body map[string]string
	}
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for _, r := range routes {
			for i := range r.count {
				jobs <- job{r.path, r.body(i)}
			}
		}
	}()
	var (
		sent, errors5xx atomic.Int64
		wg              sync.WaitGroup
	)
	client := newClient()
	for range 16 {
		wg.Go(func() {
			for j := range jobs {
				res, err := postJSONFrom(client, svc.URL+j.path, j.body, randomAddress())
				if err != nil {
					t.Errorf("%s: %v", j.path, err)
					continue
				}
				sent.Add(1)
				if res.status >= 500 {
					errors5xx.Add(1)
				}
			}
		})
	}
	wg.Wait()

	m := memoryLimitLine.FindStringSubmatch(svc.Log())
	if m == nil {
		t.Fatalf("the service did not log its memory limit:\n%s", svc.Log())
	}
	mib, _ := strconv.ParseInt(m[1], 10, 64)
	heapBound := mib << 20
	peak, collections := maxLiveHeap(svc.Log())
	t.Logf("%d requests, %d collections, largest live heap %d MiB (bound %d MiB)", sent.Load(), collections, peak>>20, heapBound>>20)
	if collections == 0 {
		t.Fatal("no collection was logged; GODEBUG=gctrace=1 did not reach the service")
	}
	if peak > heapBound {
		t.Errorf("the live heap reached %d MiB under the flood, over the bound of %d MiB", peak>>20, heapBound>>20)
	}
	// Hash queue refusals (503) are the one 5xx a flood may cause.
	if n := errors5xx.Load(); n > 0 && !strings.Contains(svc.Log(), `"status":503`) {
		t.Errorf("%d answers were 5xx other than 503", n)
	}
}

// randomAddress is a client address as a trusted proxy reports it: a random
// IPv4 address or an address in a random IPv6 /64.
func randomAddress() string {
	if rand.IntN(2) == 0 {
		return fmt.Sprintf("%d.%d.%d.%d", 1+rand.IntN(222), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
	}
	return fmt.Sprintf("2001:db8:%x:%x::%x", rand.IntN(1<<16), rand.IntN(1<<16), 1+rand.IntN(1<<16))
}

// postJSONFrom posts body as JSON through a proxy that reports the client
// address from.
func postJSONFrom(client *http.Client, url string, body map[string]string, from string) (result, error) {
	return postJSONWith(client, url, body, http.Header{"X-Forwarded-For": {from}})
}
