package app

import (
	"runtime/debug"
	"testing"

	"authapi/adapters/hasher"
)

func TestTuneMemory(t *testing.T) {
	// The settings are the process's; put back what the test found.
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	limitBefore := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(before)
		debug.SetMemoryLimit(limitBefore)
	})

	params := hasher.DefaultParams() // 19 MiB per hash
	const slots = 2
	wantLimit := int64(48<<20 + 2*2*19<<20)

	tests := []struct {
		name string
		env  map[string]string
		want memorySettings
	}{
		{
			name: "defaults",
			want: memorySettings{gcPercent: 50, limit: wantLimit},
		},
		{
			name: "the operator's GOGC stands",
			env:  map[string]string{"GOGC": "200"},
			want: memorySettings{gcPercent: 200, limit: wantLimit, fromGOGC: true},
		},
		{
			name: "the operator's GOMEMLIMIT stands",
			env:  map[string]string{"GOMEMLIMIT": "1GiB"},
			want: memorySettings{gcPercent: 50, limit: 1 << 30, fromGOMEMLIMIT: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The runtime reads GOGC and GOMEMLIMIT at start; stand in for
			// it by applying what the environment says.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 62)
			if tt.env["GOGC"] != "" {
				debug.SetGCPercent(200)
			}
			if tt.env["GOMEMLIMIT"] != "" {
				debug.SetMemoryLimit(1 << 30)
			}
			got := tuneMemory(func(k string) string { return tt.env[k] }, params, slots)
			if got != tt.want {
				t.Errorf("tuneMemory = %+v, want %+v", got, tt.want)
			}
			if p := debug.SetGCPercent(-1); p != tt.want.gcPercent {
				t.Errorf("GC percent in force = %d, want %d", p, tt.want.gcPercent)
			} else {
				debug.SetGCPercent(p)
			}
			if l := debug.SetMemoryLimit(-1); l != tt.want.limit {
				t.Errorf("memory limit in force = %d, want %d", l, tt.want.limit)
			}
		})
	}
}
