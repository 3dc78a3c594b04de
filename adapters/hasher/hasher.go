// Package hasher hashes passwords with argon2id and stores them in the PHC
// string format, so every hash carries the parameters it was made with.
package hasher

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.PasswordHasher = (*Hasher)(nil)

// ErrMalformedHash reports a stored hash that is not an argon2id PHC string
// with parameters inside the accepted bounds.
var ErrMalformedHash = errors.New("malformed password hash")

// Bounds on parameters, checked for configured parameters and for every
// stored hash. The upper bounds keep a corrupted or planted hash from making
// one login allocate or compute without limit; they are far above any
// realistic setting (RFC 9106's most expensive recommendation is 2 GiB, t=1).
const (
	maxMemoryKiB  = 4 << 20 // 4 GiB
	maxIterations = 64
	minSaltLength = 8 // RFC 9106 minimum
	maxSaltLength = 64
	minKeyLength  = 16
	maxKeyLength  = 64
)

// Params are argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultParams returns OWASP's recommended minimum for argon2id: 19 MiB of
// memory, two passes, one lane.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Validate reports whether p is usable: within argon2's own limits and the
// bounds this package accepts from stored hashes.
func (p Params) Validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d outside 1..%d", p.Iterations, maxIterations)
	case p.Parallelism < 1:
		return errors.New("parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemoryKiB:
		// Argon2 needs 8 KiB per lane; below that x/crypto would silently
		// use more memory than the hash string records.
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Parallelism), maxMemoryKiB)
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLength, minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}

// QueuePerSlot is how many callers may wait per hashing slot. Beyond that a
// caller is refused at once with ErrBusy: under overload a prompt "try again"
// serves clients better than a wait that ends in their own timeout.
const QueuePerSlot = 32

// ErrBusy reports that too many hashes are waiting already. It matches
// domain.ErrUnavailable, which the API answers with 503 and Retry-After.
var ErrBusy = fmt.Errorf("hasher: too many passwords waiting to be hashed: %w", domain.ErrUnavailable)

// Hasher hashes and verifies passwords. Each hash holds Params.Memory KiB
// while it runs, so a semaphore bounds how many run at once: a burst of
// logins queues instead of multiplying memory use, and the queue itself is
// bounded. Safe for concurrent use.
type Hasher struct {
	params  Params
	random  io.Reader
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
	// observeWait, when set, hears how long each caller waited for a slot.
	observeWait func(time.Duration)
}

// ObserveWaits has the hasher report how long each hash waited for a slot,
// zero when one was free, to observe (for metrics). Call it before use.
func (h *Hasher) ObserveWaits(observe func(time.Duration)) { h.observeWait = observe }

// Waiting returns how many hashes wait for a slot now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// New returns a Hasher that makes new hashes with params, draws salts from
// random and runs at most concurrency hashes at a time (at least one). It
// panics if params are invalid or random is nil: both are programming or
// configuration errors that Params.Validate lets the caller catch first.
func New(params Params, random io.Reader, concurrency int) *Hasher {
	if err := params.Validate(); err != nil {
		panic("hasher: invalid params: " + err.Error())
	}
	if random == nil {
		panic("hasher: nil random source")
	}
	concurrency = max(concurrency, 1)
	return &Hasher{
		params:  params,
		random:  random,
		slots:   make(chan struct{}, concurrency),
		maxWait: int64(concurrency * QueuePerSlot),
	}
}

// Hash returns the PHC string of password under the configured parameters
// and a fresh salt. It waits for a free slot until ctx ends.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer h.release()

	salt := make([]byte, h.params.SaltLength)
	if _, err := io.ReadFull(h.random, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := derive(password, salt, h.params)
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, recomputing it with the
// parameters stored in encoded so hashes made under older settings still
// verify. A malformed hash yields an error wrapping ErrMalformedHash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	params, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer h.release()

	got := derive(password, salt, params)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// the configured ones (or cannot be parsed), so the caller can store a fresh
// hash after the next successful login.
func (h *Hasher) NeedsRehash(encoded string) bool {
	params, _, _, err := decode(encoded)
	return err != nil || params != h.params
}

// acquire takes a slot, waiting only if none is free. ctx bounds the wait
// alone: argon2 cannot be interrupted, so a started hash runs to the end.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		h.waited(0)
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWait {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
		h.waited(time.Since(start))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) waited(d time.Duration) {
	if h.observeWait != nil {
		h.observeWait(d)
	}
}

func (h *Hasher) release() { <-h.slots }

func derive(password string, salt []byte, p Params) []byte {
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
}

const (
	algorithm = "argon2id"
	version   = "v=19" // argon2.Version (0x13), the only version x/crypto computes
)

// encode writes the PHC string as the argon2 reference implementation does,
// with unpadded standard base64.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$%s$%s$m=%d,t=%d,p=%d$%s$%s",
		algorithm, version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decode parses a PHC string strictly: only argon2id version 19 in its
// canonical form, with every parameter in bounds. The messages describe the
// defect without quoting the hash.
func decode(encoded string) (Params, []byte, []byte, error) {
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return Params{}, nil, nil, malformed("want 5 '$'-separated fields, got %d", len(fields)-1)
	}
	if fields[1] != algorithm {
		return Params{}, nil, nil, malformed("algorithm is not %s", algorithm)
	}
	if fields[2] != version {
		return Params{}, nil, nil, malformed("version is not %s", version)
	}
	m, t, p, err := parseCosts(fields[3])
	if err != nil {
		return Params{}, nil, nil, err
	}
	salt, err := decodeB64(fields[4])
	if err != nil {
		return Params{}, nil, nil, malformed("salt: %v", err)
	}
	key, err := decodeB64(fields[5])
	if err != nil {
		return Params{}, nil, nil, malformed("hash: %v", err)
	}
	params := Params{
		Memory: m, Iterations: t, Parallelism: p,
		SaltLength: uint32(len(salt)), KeyLength: uint32(len(key)),
	}
	if err := params.Validate(); err != nil {
		return Params{}, nil, nil, malformed("%v", err)
	}
	return params, salt, key, nil
}

// parseCosts parses "m=<memory>,t=<iterations>,p=<parallelism>", in that
// order, as the reference implementation writes it.
func parseCosts(s string) (m, t uint32, p uint8, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, malformed("want parameters m, t and p")
	}
	var values [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		digits, ok := strings.CutPrefix(parts[i], name+"=")
		if !ok {
			return 0, 0, 0, malformed("want parameters m, t and p")
		}
		values[i], err = parseDecimal(digits)
		if err != nil {
			return 0, 0, 0, malformed("parameter %s: %v", name, err)
		}
	}
	if values[0] > maxMemoryKiB || values[1] > maxIterations || values[2] > 255 {
		return 0, 0, 0, malformed("parameters out of range")
	}
	return uint32(values[0]), uint32(values[1]), uint8(values[2]), nil
}

// parseDecimal accepts only canonical decimals: no sign, no leading zeros,
// at most ten digits.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical decimal")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical decimal")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// decodeB64 decodes unpadded standard base64 and insists the input was the
// canonical encoding: the decoder alone skips CR and LF and ignores
// non-zero trailing bits.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical unpadded base64")
	}
	return b, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}
