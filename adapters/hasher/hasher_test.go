package hasher_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"authapi/adapters/hasher"
	"authapi/domain"
)

// fast keeps tests quick; the format and logic do not depend on the cost.
var fast = hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// fixedReader yields the same byte forever, so salts are predictable.
type fixedReader byte

func (r fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func mustHash(t *testing.T, h *hasher.Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

// phcParts splits an encoded hash independently of the package under test.
func phcParts(t *testing.T, encoded string) (costs string, salt, key []byte) {
	t.Helper()
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 {
		t.Fatalf("encoded hash has %d fields, want 6", len(fields))
	}
	salt, err := base64.RawStdEncoding.DecodeString(fields[4])
	if err != nil {
		t.Fatalf("decode salt: %v", err)
	}
	key, err = base64.RawStdEncoding.DecodeString(fields[5])
	if err != nil {
		t.Fatalf("decode key: %v", err)
	}
	return fields[3], salt, key
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := hasher.New(fast, rand.Reader, 2)
	tests := []struct {
		name     string
		password string
		wrong    string
	}{
		{"ascii", "correct horse battery staple", "correct horse battery stapler"},
		{"unicode", "pässwörd ✓ 密码", "passwörd ✓ 密码"},
		{"long", strings.Repeat("a", 128), strings.Repeat("a", 127)},
		{"case matters", "Secret-Password", "secret-password"},
		{"empty", "", " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := mustHash(t, h, tt.password)
			if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
				t.Errorf("encoded = %q, want prefix %q", encoded, want)
			}
			if strings.Contains(encoded, tt.password) && tt.password != "" {
				t.Errorf("encoded hash contains the password")
			}

			got, err := h.Verify(context.Background(), tt.password, encoded)
			if err != nil || !got {
				t.Errorf("Verify(right password) = %v, %v; want true, nil", got, err)
			}
			got, err = h.Verify(context.Background(), tt.wrong, encoded)
			if err != nil || got {
				t.Errorf("Verify(wrong password) = %v, %v; want false, nil", got, err)
			}
		})
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := hasher.New(fast, rand.Reader, 1)
	first := mustHash(t, h, "same password")
	second := mustHash(t, h, "same password")
	if first == second {
		t.Errorf("two hashes of one password are equal: %q", first)
	}
	for _, encoded := range []string{first, second} {
		if ok, err := h.Verify(context.Background(), "same password", encoded); err != nil || !ok {
			t.Errorf("Verify = %v, %v; want true, nil", ok, err)
		}
	}
}

func TestHashIsDeterministicForAFixedSalt(t *testing.T) {
	got := mustHash(t, hasher.New(fast, fixedReader(7), 1), "password")
	want := mustHash(t, hasher.New(fast, fixedReader(7), 1), "password")
	if got != want {
		t.Errorf("hashes with the same salt differ:\n got %q\nwant %q", got, want)
	}
	if other := mustHash(t, hasher.New(fast, fixedReader(8), 1), "password"); other == got {
		t.Errorf("hashes with different salts are equal: %q", other)
	}
}

// The stored key must be exactly argon2id of the password and salt under the
// recorded parameters, computed here straight from x/crypto.
func TestHashKnownAnswer(t *testing.T) {
	tests := []struct {
		name      string
		params    hasher.Params
		wantCosts string
	}{
		{"fast", fast, "m=64,t=1,p=1"},
		{"default", hasher.DefaultParams(), "m=19456,t=2,p=1"},
		{"two lanes, short salt and key", hasher.Params{Memory: 256, Iterations: 3, Parallelism: 2, SaltLength: 8, KeyLength: 16}, "m=256,t=3,p=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const password = "known answer"
			encoded := mustHash(t, hasher.New(tt.params, fixedReader(0x5a), 1), password)

			costs, salt, key := phcParts(t, encoded)
			if costs != tt.wantCosts {
				t.Errorf("costs = %q, want %q", costs, tt.wantCosts)
			}
			wantSalt := bytes.Repeat([]byte{0x5a}, int(tt.params.SaltLength))
			if !bytes.Equal(salt, wantSalt) {
				t.Errorf("salt = %x, want %x", salt, wantSalt)
			}
			p := tt.params
			wantKey := argon2.IDKey([]byte(password), wantSalt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
			if !bytes.Equal(key, wantKey) {
				t.Errorf("key = %x, want %x", key, wantKey)
			}
		})
	}
}

func TestVerifyAcceptsOtherParams(t *testing.T) {
	old := hasher.Params{Memory: 128, Iterations: 2, Parallelism: 2, SaltLength: 12, KeyLength: 24}
	encoded := mustHash(t, hasher.New(old, rand.Reader, 1), "password")
	current := hasher.New(fast, rand.Reader, 1)

	ok, err := current.Verify(context.Background(), "password", encoded)
	if err != nil || !ok {
		t.Errorf("Verify(hash with old params) = %v, %v; want true, nil", ok, err)
	}
	ok, err = current.Verify(context.Background(), "Password", encoded)
	if err != nil || ok {
		t.Errorf("Verify(wrong password, old params) = %v, %v; want false, nil", ok, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	current := hasher.New(fast, rand.Reader, 1)
	tests := []struct {
		name   string
		params hasher.Params
		want   bool
	}{
		{"same params", fast, false},
		{"more memory", hasher.Params{Memory: 128, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, true},
		{"more iterations", hasher.Params{Memory: 64, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, true},
		{"more lanes", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}, true},
		{"shorter salt", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 8, KeyLength: 32}, true},
		{"longer key", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := mustHash(t, hasher.New(tt.params, rand.Reader, 1), "password")
			if got := current.NeedsRehash(encoded); got != tt.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
	if !current.NeedsRehash("not a hash") {
		t.Error("NeedsRehash(malformed) = false, want true")
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	valid := mustHash(t, hasher.New(fast, fixedReader(1), 1), "password")
	fields := strings.Split(valid, "$")
	salt, key := fields[4], fields[5]
	b64 := base64.RawStdEncoding.EncodeToString
	build := func(alg, version, costs, salt, key string) string {
		return "$" + alg + "$" + version + "$" + costs + "$" + salt + "$" + key
	}
	std := func(costs string) string { return build("argon2id", "v=19", costs, salt, key) }

	if ok, err := hasher.New(fast, rand.Reader, 1).Verify(context.Background(), "password", std("m=64,t=1,p=1")); err != nil || !ok {
		t.Fatalf("the unmodified hash does not verify (%v, %v); the cases below would prove nothing", ok, err)
	}

	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "not-a-hash"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"argon2i", build("argon2i", "v=19", "m=64,t=1,p=1", salt, key)},
		{"argon2d", build("argon2d", "v=19", "m=64,t=1,p=1", salt, key)},
		{"upper-case algorithm", build("ARGON2ID", "v=19", "m=64,t=1,p=1", salt, key)},
		{"version 16", build("argon2id", "v=16", "m=64,t=1,p=1", salt, key)},
		{"version missing", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"parameters missing", "$argon2id$v=19$" + salt + "$" + key},
		{"p missing", std("m=64,t=1")},
		{"empty parameters", std("")},
		{"parameters reordered", std("t=1,m=64,p=1")},
		{"extra parameter", std("m=64,t=1,p=1,k=1")},
		{"parameter without value", std("m=,t=1,p=1")},
		{"signed parameter", std("m=+64,t=1,p=1")},
		{"leading zero", std("m=064,t=1,p=1")},
		{"hex parameter", std("m=0x40,t=1,p=1")},
		{"m=0", std("m=0,t=1,p=1")},
		{"m below 8 KiB per lane", std("m=15,t=1,p=2")},
		{"m above 4 GiB", std("m=4194305,t=1,p=1")},
		{"m overflows uint32", std("m=4294967296,t=1,p=1")},
		{"m absurdly long", std("m=" + strings.Repeat("9", 40) + ",t=1,p=1")},
		{"t=0", std("m=64,t=0,p=1")},
		{"t huge", std("m=64,t=4294967295,p=1")},
		{"p=0", std("m=64,t=1,p=0")},
		{"p=256", std("m=4096,t=1,p=256")},
		{"extra field", valid + "$extra"},
		{"trailing dollar", valid + "$"},
		{"text before", "x" + valid},
		{"salt not base64", build("argon2id", "v=19", "m=64,t=1,p=1", "!!!!!!!!!!!", key)},
		{"salt padded", build("argon2id", "v=19", "m=64,t=1,p=1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)), key)},
		{"salt with newline", build("argon2id", "v=19", "m=64,t=1,p=1", salt[:8]+"\n"+salt[8:], key)},
		{"salt URL alphabet", build("argon2id", "v=19", "m=64,t=1,p=1", base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 16)), key)},
		{"salt with non-canonical trailing bits", build("argon2id", "v=19", "m=64,t=1,p=1", salt[:len(salt)-1]+"B", key)},
		{"empty salt", build("argon2id", "v=19", "m=64,t=1,p=1", "", key)},
		{"salt too short", build("argon2id", "v=19", "m=64,t=1,p=1", b64(make([]byte, 4)), key)},
		{"salt too long", build("argon2id", "v=19", "m=64,t=1,p=1", b64(make([]byte, 65)), key)},
		{"key not base64", build("argon2id", "v=19", "m=64,t=1,p=1", salt, "*"+key[1:])},
		{"empty key", build("argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{"key too short", build("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(make([]byte, 8)))},
		{"key too long", build("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(make([]byte, 65)))},
	}
	h := hasher.New(fast, rand.Reader, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), "password", tt.encoded)
			if ok {
				t.Error("Verify = true for a malformed hash")
			}
			if !errors.Is(err, hasher.ErrMalformedHash) {
				t.Errorf("err = %v, want ErrMalformedHash", err)
			}
			if tt.encoded != "" && err != nil && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("err %q quotes the stored hash", err)
			}
			if !h.NeedsRehash(tt.encoded) {
				t.Error("NeedsRehash = false for a malformed hash")
			}
		})
	}
}

func TestHashFailsWithoutRandomness(t *testing.T) {
	h := hasher.New(fast, errReader{}, 1)
	if encoded, err := h.Hash(context.Background(), "password"); err == nil {
		t.Errorf("Hash = %q, want an error", encoded)
	}
}

// gateReader blocks its first reader until released, so a test can hold a
// Hash call at the point where it owns a hashing slot.
type gateReader struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gateReader) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return fixedReader(3).Read(p)
}

func TestLimiterHonoursContextWhileWaiting(t *testing.T) {
	encoded := mustHash(t, hasher.New(fast, fixedReader(9), 1), "password")
	gate := &gateReader{entered: make(chan struct{}), release: make(chan struct{})}
	h := hasher.New(fast, gate, 1)

	holder := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "other password")
		holder <- err
	}()
	<-gate.entered // the only slot is now taken

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := h.Verify(cancelled, "password", encoded)
	if ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify while the slot is held = %v, %v; want false, context.Canceled", ok, err)
	}

	close(gate.release)
	if err := <-holder; err != nil {
		t.Fatalf("holding Hash: %v", err)
	}
	// With the slot free again no waiting is needed, so even a cancelled
	// context gets its answer: the context bounds only the wait.
	ok, err = h.Verify(cancelled, "password", encoded)
	if err != nil || !ok {
		t.Errorf("Verify with a free slot = %v, %v; want true, nil", ok, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	h := hasher.New(fast, rand.Reader, 2)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			encoded, err := h.Hash(context.Background(), "password")
			if err != nil {
				errs[i] = err
				return
			}
			if ok, err := h.Verify(context.Background(), "password", encoded); err != nil || !ok {
				errs[i] = errors.New("own hash did not verify")
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	if err := hasher.DefaultParams().Validate(); err != nil {
		t.Fatalf("DefaultParams().Validate() = %v", err)
	}
	tests := []struct {
		name   string
		params hasher.Params
	}{
		{"zero value", hasher.Params{}},
		{"no iterations", hasher.Params{Memory: 64, Iterations: 0, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"no lanes", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 0, SaltLength: 16, KeyLength: 32}},
		{"too little memory for lanes", hasher.Params{Memory: 16, Iterations: 1, Parallelism: 4, SaltLength: 16, KeyLength: 32}},
		{"too much memory", hasher.Params{Memory: 4<<20 + 1, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"short salt", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 7, KeyLength: 32}},
		{"short key", hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.params.Validate(); err == nil {
				t.Error("Validate = nil, want an error")
			}
			defer func() {
				if recover() == nil {
					t.Error("New did not panic on invalid params")
				}
			}()
			hasher.New(tt.params, rand.Reader, 1)
		})
	}
}

func BenchmarkHash(b *testing.B) {
	h := hasher.New(hasher.DefaultParams(), rand.Reader, runtime.GOMAXPROCS(0))
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := hasher.New(hasher.DefaultParams(), rand.Reader, runtime.GOMAXPROCS(0))
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := h.Verify(ctx, "correct horse battery staple", encoded); err != nil || !ok {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

func TestQueueIsBounded(t *testing.T) {
	encoded := mustHash(t, hasher.New(fast, fixedReader(9), 1), "password")
	gate := &gateReader{entered: make(chan struct{}), release: make(chan struct{})}
	h := hasher.New(fast, gate, 1)
	holder := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "other password")
		holder <- err
	}()
	<-gate.entered // the only slot is taken

	waitCtx, stopWaiting := context.WithCancel(context.Background())
	var waiters sync.WaitGroup
	for range hasher.QueuePerSlot {
		waiters.Go(func() { _, _ = h.Verify(waitCtx, "password", encoded) })
	}
	// A caller with a cancelled context joins the queue only if there is
	// room, and then leaves at once; once the waiters fill the queue it is
	// refused as busy instead.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err = h.Verify(cancelled, "password", encoded); errors.Is(err, hasher.ErrBusy) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, hasher.ErrBusy) || !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Verify with a full queue = %v, want ErrBusy matching domain.ErrUnavailable", err)
	}

	stopWaiting()
	waiters.Wait()
	close(gate.release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(context.Background(), "password", encoded); err != nil || !ok {
		t.Errorf("Verify after the queue drained = %v, %v", ok, err)
	}
}
