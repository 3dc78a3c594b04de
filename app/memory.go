package app

import (
	"runtime/debug"

	"authapi/adapters/hasher"
)

// Password hashing dominates the service's memory: each argon2id call
// allocates its whole cost (19 MiB by default) and drops it when done, so
// under a stream of logins the heap is mostly hash memory that is already
// garbage. Left to the Go runtime's defaults, the collector lets the heap
// grow to twice what was live at the last collection, several hashes' worth
// of garbage on top of the hashes in progress. The settings below keep it
// near what the hashing slots need.
const (
	// gcPercent lets the heap grow by half of what is live, not all of it,
	// before a collection. Collections then run twice as often, which is
	// cheap here: hash memory holds no pointers, so there is little to trace.
	gcPercent = 50

	// baseMemory is what the service needs besides password hashing: the
	// password dictionaries, connection buffers, the token cache, and room
	// for garbage between collections.
	baseMemory = 48 << 20
)

// memoryLimit is the soft limit given to the Go runtime: room for every
// hashing slot to hold its own memory and the memory it just let go, on top
// of baseMemory. It is a safety net that the heap does not reach in normal
// running; near it, the runtime collects harder and hands memory back to the
// system, which costs throughput.
func memoryLimit(params hasher.Params, slots int) int64 {
	return baseMemory + int64(max(slots, 1))*2*int64(params.Memory)<<10
}

// memorySettings are the collector settings in force.
type memorySettings struct {
	gcPercent      int
	limit          int64
	fromGOGC       bool // gcPercent was set by the operator with GOGC
	fromGOMEMLIMIT bool // limit was set by the operator with GOMEMLIMIT
}

// tuneMemory applies gcPercent and memoryLimit, except where the operator
// chose otherwise with GOGC or GOMEMLIMIT, which the runtime has already
// applied.
func tuneMemory(getenv func(string) string, params hasher.Params, slots int) memorySettings {
	var s memorySettings
	if getenv("GOGC") != "" {
		s.fromGOGC = true
		s.gcPercent = debug.SetGCPercent(-1)
		debug.SetGCPercent(s.gcPercent) // SetGCPercent only reports by setting
	} else {
		s.gcPercent = gcPercent
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") != "" {
		s.fromGOMEMLIMIT = true
		s.limit = debug.SetMemoryLimit(-1) // a negative limit only reports
	} else {
		s.limit = memoryLimit(params, slots)
		debug.SetMemoryLimit(s.limit)
	}
	return s
}
