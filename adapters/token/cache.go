package token

import (
	"crypto/sha256"
	"sync"
	"time"

	"authapi/domain"
)

// verifiedCacheSize bounds how many verified access tokens are remembered:
// about 200 bytes each, so a few MiB at most.
const verifiedCacheSize = 16384

// verifiedCache remembers access tokens whose signature and claims have been
// checked, until they expire or their key retires. An ES256 verification
// costs more than the rest of a protected request, while a client presents
// the same access token for every request of its lifetime. Tokens are keyed
// by their SHA-256, so the cache holds no usable token.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedClaims
}

type cachedClaims struct {
	claims     domain.Claims
	validUntil time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]cachedClaims)}
}

// get returns the claims of token if it was verified before and is still
// valid at now.
func (c *verifiedCache) get(token string, now time.Time) (domain.Claims, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.validUntil) || now.Before(e.claims.IssuedAt) {
		return domain.Claims{}, false
	}
	return e.claims, true
}

// put remembers a verified token until validUntil. When the cache is full an
// arbitrary eighth of it is forgotten: map iteration order is random, and a
// forgotten token only costs one more verification.
func (c *verifiedCache) put(token string, claims domain.Claims, validUntil time.Time) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedCacheSize {
		drop := verifiedCacheSize / 8
		for k := range c.entries {
			delete(c.entries, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[key] = cachedClaims{claims: claims, validUntil: validUntil}
}
