package hasher

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// Parsed hashes whose cost exceeds these bounds are only checked for their
// round trip, not verified: the package accepts up to 4 GiB and 64 passes
// from a stored hash, and a fuzzer that found such a string would otherwise
// spend minutes and gigabytes on one input.
const (
	fuzzMaxMemoryKiB = 1024
	fuzzMaxWork      = 4096 // memory in KiB times passes
)

// FuzzVerifyPHC feeds arbitrary stored-hash strings to Verify: it never
// panics, refuses anything that is not a canonical in-bounds argon2id PHC
// string with ErrMalformedHash (without quoting it), and for the strings it
// accepts, parsing and encoding again gives the string back and the answer
// matches argon2 itself.
func FuzzVerifyPHC(f *testing.F) {
	h := New(Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, bytes.NewReader(bytes.Repeat([]byte{7}, 1<<20)), 2)
	stored, err := h.Hash(context.Background(), "StrongPassword123!")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stored, "StrongPassword123!")
	f.Add(stored, "WrongPassword123!")
	f.Add(encode(Params{Memory: 256, Iterations: 2, Parallelism: 2, SaltLength: 8, KeyLength: 16},
		[]byte("saltsalt"), []byte("0123456789abcdef")), "")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU", "x")
	f.Add("$argon2id$v=19$m=4194304,t=64,p=255$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$YWJjZGVmZ2hpamtsbW5vcA==", "x")
	f.Add("$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$argon2id$v=19$m=99999999999,t=1,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA", "x")
	f.Add("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		params, salt, key, decodeErr := decode(encoded)
		if decodeErr != nil {
			if !errors.Is(decodeErr, ErrMalformedHash) {
				t.Fatalf("decode error %v does not match ErrMalformedHash", decodeErr)
			}
			ok, err := h.Verify(context.Background(), password, encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want ErrMalformedHash", ok, err)
			}
			if len(encoded) >= 16 && strings.Contains(err.Error(), encoded) {
				t.Errorf("error %q quotes the stored hash", err)
			}
			if !h.NeedsRehash(encoded) {
				t.Error("a malformed hash does not need a rehash")
			}
			return
		}
		if got := encode(params, salt, key); got != encoded {
			t.Fatalf("re-encoding %q gives %q", encoded, got)
		}
		if err := params.Validate(); err != nil {
			t.Fatalf("decode accepted out-of-bounds parameters %+v: %v", params, err)
		}
		if h.NeedsRehash(encoded) != (params != h.params) {
			t.Errorf("NeedsRehash disagrees with the parameters %+v", params)
		}
		if params.Memory > fuzzMaxMemoryKiB || uint64(params.Memory)*uint64(params.Iterations) > fuzzMaxWork {
			t.Skip("too costly to verify under fuzzing")
		}
		ok, err := h.Verify(context.Background(), password, encoded)
		if err != nil {
			t.Fatalf("Verify of a well-formed hash: %v", err)
		}
		want := bytes.Equal(argon2.IDKey([]byte(password), salt, params.Iterations, params.Memory, params.Parallelism, params.KeyLength), key)
		if ok != want {
			t.Errorf("Verify = %v, argon2 says %v", ok, want)
		}
	})
}
