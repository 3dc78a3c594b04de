package app

import (
	"runtime/debug"
	"testing"

	"authapi/adapters/hasher"
)

func TestLimitMemory(t *testing.T) {
	// The limit is the process's; put back what the test found.
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	const slots = 2
	params := hasher.DefaultParams() // 19 MiB per hash
	tests := []struct {
		name        string
		env         map[string]string
		wantLimit   int64
		wantFromEnv bool
	}{
		{"sized from the hashing slots", nil, 34<<20 + 2*2*19<<20, false},
		{"the operator's GOMEMLIMIT stands", map[string]string{"GOMEMLIMIT": "1GiB"}, 1 << 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The runtime reads GOMEMLIMIT at start; stand in for it.
			debug.SetMemoryLimit(1 << 62)
			if tt.env["GOMEMLIMIT"] != "" {
				debug.SetMemoryLimit(1 << 30)
			}
			limit, fromEnv := limitMemory(func(k string) string { return tt.env[k] }, params, slots)
			if limit != tt.wantLimit || fromEnv != tt.wantFromEnv {
				t.Errorf("limitMemory = %d, %v; want %d, %v", limit, fromEnv, tt.wantLimit, tt.wantFromEnv)
			}
			if inForce := debug.SetMemoryLimit(-1); inForce != tt.wantLimit {
				t.Errorf("limit in force = %d, want %d", inForce, tt.wantLimit)
			}
		})
	}
}
