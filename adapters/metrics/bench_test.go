package metrics

import (
	"testing"
	"time"
)

// BenchmarkObserveRequest is what the metrics cost a request: one count and
// one observation, from every core at once, as under load.
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("/me", "GET", 200, 250*time.Microsecond)
		}
	})
}
