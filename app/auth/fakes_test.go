package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// countingRandom yields a deterministic, never-repeating byte stream.
type countingRandom struct{ next byte }

func (r *countingRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// fakeHasher "hashes" by prefixing and records how often it did work.
type fakeHasher struct {
	// delay is how long each hash takes, so that tests can overlap them.
	delay time.Duration

	mu       sync.Mutex
	hashes   int
	verifies int
}

func (h *fakeHasher) Hash(_ context.Context, password string) (string, error) {
	time.Sleep(h.delay)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hashes++
	return "fake$" + password, nil
}

func (h *fakeHasher) Verify(_ context.Context, password, encoded string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.verifies++
	for _, prefix := range []string{"fake$", oldParamsPrefix} {
		if rest, ok := strings.CutPrefix(encoded, prefix); ok {
			return rest == password, nil
		}
	}
	return false, errors.New("malformed hash")
}

// oldParamsPrefix marks a fake hash made under parameters other than the
// current ones: it verifies, but NeedsRehash reports it.
const oldParamsPrefix = "fake-old-params$"

func (h *fakeHasher) NeedsRehash(encoded string) bool {
	return !strings.HasPrefix(encoded, "fake$")
}

// fakeTokens issues opaque tokens and remembers their claims, honouring the
// ports.Tokens contract: kind and expiry are checked on Verify.
type fakeTokens struct {
	accessTTL, refreshTTL time.Duration
	issued                map[string]domain.Claims
}

func newFakeTokens() *fakeTokens {
	return &fakeTokens{accessTTL: 15 * time.Minute, refreshTTL: 720 * time.Hour, issued: map[string]domain.Claims{}}
}

func (f *fakeTokens) Issue(spec ports.TokenSpec, now time.Time) (string, domain.Claims, error) {
	ttl := f.accessTTL
	if spec.Kind == domain.RefreshToken {
		ttl = f.refreshTTL
	}
	token := fmt.Sprintf("%s-token-%d", spec.Kind, len(f.issued)+1)
	id := spec.ID
	if id == "" {
		id = token
	}
	claims := domain.Claims{Kind: spec.Kind, UserID: spec.UserID, SessionID: spec.SessionID, ID: id, AMR: spec.AMR, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	f.issued[token] = claims
	return token, claims, nil
}

func (f *fakeTokens) Verify(token string, kind domain.TokenKind, now time.Time) (domain.Claims, error) {
	c, ok := f.issued[token]
	if !ok || c.Kind != kind || !now.Before(c.ExpiresAt) {
		return domain.Claims{}, domain.ErrInvalidToken
	}
	return c, nil
}

// countingNotifier counts wake-ups of the mail dispatcher.
type countingNotifier struct{ wakeups int }

func (n *countingNotifier) MailQueued() { n.wakeups++ }
