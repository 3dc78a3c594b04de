package token_test

import (
	"crypto/elliptic"
	"strings"
	"testing"
	"time"

	"authapi/adapters/token"
	"authapi/ports"
)

// keyLifetime is the longest a token of the tests' Tokens can be valid.
const keyLifetime = refreshTTL

// assertSameKeys compares whole keys: the private keys by value, every other
// field with ==, so that a field added to ports.SigningKey is compared too.
func assertSameKeys(t *testing.T, got, want []ports.SigningKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Private.Equal(w.Private) {
			t.Errorf("key %d: another private key than the one expected", i+1)
		}
		g.Private, w.Private = nil, nil
		if g != w {
			t.Errorf("key %d = %+v, want %+v", i+1, g, w)
		}
	}
}

func TestInspectAndPrune(t *testing.T) {
	undated := ports.SigningKey{Private: newKey(t, elliptic.P256())} // from before rotation
	first := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	second := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(time.Hour)}
	next := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(3 * time.Hour)}

	rotated := []ports.SigningKey{undated, first, second}
	retireUndated, retireFirst := now.Add(keyLifetime), now.Add(time.Hour+keyLifetime)
	withNext := []ports.SigningKey{first, second, next}
	retireSecond := now.Add(3*time.Hour + keyLifetime)
	// A next key due after the oldest key retired.
	late := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour), ActiveFrom: now.Add(time.Hour + 2*keyLifetime)}
	withLateNext := []ports.SigningKey{first, second, late}

	const (
		nx = token.KeyNext
		sg = token.KeySigning
		vf = token.KeyVerifying
		rt = token.KeyRetired
	)
	tests := []struct {
		name        string
		keys        []ports.SigningKey
		retiresAt   []time.Time
		at          time.Time
		wantStates  []token.KeyState
		wantRetired int // how many of the oldest keys Prune drops
	}{
		{"right after the rotations", rotated, []time.Time{retireUndated, retireFirst, {}}, now.Add(time.Hour),
			[]token.KeyState{vf, vf, sg}, 0},
		{"last second of the oldest key", rotated, []time.Time{retireUndated, retireFirst, {}}, retireUndated.Add(-time.Second),
			[]token.KeyState{vf, vf, sg}, 0},
		{"oldest key retires", rotated, []time.Time{retireUndated, retireFirst, {}}, retireUndated,
			[]token.KeyState{rt, vf, sg}, 1},
		{"both older keys retired", rotated, []time.Time{retireUndated, retireFirst, {}}, retireFirst,
			[]token.KeyState{rt, rt, sg}, 2},
		{"the newest key never retires", rotated, []time.Time{retireUndated, retireFirst, {}}, retireFirst.Add(100 * 365 * 24 * time.Hour),
			[]token.KeyState{rt, rt, sg}, 2},
		{"a clock behind every dated key", rotated, []time.Time{retireUndated, retireFirst, {}}, now.Add(-time.Hour),
			[]token.KeyState{sg, nx, nx}, 0},
		{"a next key", withNext, []time.Time{retireFirst, retireSecond, {}}, now.Add(2 * time.Hour),
			[]token.KeyState{vf, sg, nx}, 0},
		{"a next key, the oldest retired", withLateNext, []time.Time{retireFirst, late.ActiveFrom.Add(keyLifetime), {}}, retireFirst,
			[]token.KeyState{rt, sg, nx}, 1},
		{"the next key's time", withNext, []time.Time{retireFirst, retireSecond, {}}, now.Add(3 * time.Hour),
			[]token.KeyState{vf, vf, sg}, 0},
		{"before any key signs, the oldest does", withNext, []time.Time{retireFirst, retireSecond, {}}, now.Add(-time.Hour),
			[]token.KeyState{sg, nx, nx}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := token.Inspect(tt.keys, tt.at, keyLifetime)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if len(infos) != len(tt.keys) {
				t.Fatalf("Inspect returned %d infos, want %d", len(infos), len(tt.keys))
			}
			for i, k := range tt.keys {
				activeFrom := k.ActiveFrom
				if activeFrom.IsZero() {
					activeFrom = k.Created
				}
				want := token.KeyInfo{ID: kidOf(t, k), Created: k.Created, ActiveFrom: activeFrom,
					State: tt.wantStates[i], RetiresAt: tt.retiresAt[i]}
				if infos[i] != want {
					t.Errorf("key %d = %+v, want %+v", i+1, infos[i], want)
				}
			}

			kept, retired := token.Prune(tt.keys, tt.at, keyLifetime)
			assertSameKeys(t, retired, tt.keys[:tt.wantRetired])
			assertSameKeys(t, kept, tt.keys[tt.wantRetired:])
		})
	}
}

func TestInspectErrors(t *testing.T) {
	key := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	tests := []struct {
		name     string
		keys     []ports.SigningKey
		lifetime time.Duration
		wantErr  string
	}{
		{"no lifetime", []ports.SigningKey{key}, 0, "lifetime"},
		{"no key", nil, keyLifetime, "no signing key"},
		{"undated newer key", []ports.SigningKey{key, {Private: newKey(t, elliptic.P256())}}, keyLifetime, "key 2 is undated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := token.Inspect(tt.keys, now, tt.lifetime)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Inspect = %v, %v; want an error mentioning %q", infos, err, tt.wantErr)
			}
		})
	}
}

func TestKeyStateString(t *testing.T) {
	tests := []struct {
		state token.KeyState
		want  string
	}{
		{token.KeyNext, "next"},
		{token.KeySigning, "signing"},
		{token.KeyVerifying, "verifying"},
		{token.KeyRetired, "retired"},
		{token.KeyState(0), "KeyState(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.state.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
