package hasher_test

import (
	"context"
	"crypto/rand"
	"runtime"
	"testing"

	"authapi/adapters/hasher"
)

// BenchmarkVerifyParallel checks passwords from more goroutines than the
// hasher has slots, as a burst of logins does: ns/op is the inverse of the
// login throughput that hashing allows, and the semaphore's queueing is
// included.
func BenchmarkVerifyParallel(b *testing.B) {
	h := hasher.New(hasher.DefaultParams(), rand.Reader, runtime.GOMAXPROCS(0))
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4) // 4 × GOMAXPROCS goroutines compete for the slots
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := h.Verify(ctx, "correct horse battery staple", encoded); err != nil || !ok {
				b.Errorf("Verify = %v, %v", ok, err)
				return
			}
		}
	})
}
