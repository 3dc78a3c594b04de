package app

import (
	"runtime/debug"

	"authapi/adapters/hasher"
)

// baseMemory is what the service needs besides password hashing: the
// password dictionaries, connection buffers, the token cache, and room for
// garbage between collections.
const baseMemory = 34 << 20

// memoryLimit is the soft limit given to the Go runtime unless the operator
// sets GOMEMLIMIT: room for every hashing slot to hold its own memory and the
// memory it just let go, on top of baseMemory.
//
// Password hashing dominates the service's memory. Each argon2id call
// allocates its whole cost (19 MiB by default) and drops it when done, so
// under a stream of logins the heap is mostly hash memory that is already
// garbage, and the collector's default pacing lets it grow to twice what was
// live at the last collection. The limit makes the collector run before
// that, which is cheap, since hash memory holds no pointers to trace.
// Lowering GOGC instead would bound memory just as well, but it makes every
// collection come sooner, and cheap requests pay for that (the README's
// performance notes give the measurements).
func memoryLimit(params hasher.Params, slots int) int64 {
	return baseMemory + int64(max(slots, 1))*2*int64(params.Memory)<<10
}

// limitMemory applies memoryLimit unless GOMEMLIMIT is set, and returns the
// limit in force and whether it came from GOMEMLIMIT.
func limitMemory(getenv func(string) string, params hasher.Params, slots int) (limit int64, fromEnv bool) {
	if getenv("GOMEMLIMIT") != "" {
		// The runtime has already applied it; a negative limit only reports.
		return debug.SetMemoryLimit(-1), true
	}
	limit = memoryLimit(params, slots)
	debug.SetMemoryLimit(limit)
	return limit, false
}
