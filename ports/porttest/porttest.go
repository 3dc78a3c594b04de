// Package porttest holds contract tests for the driven ports: suites that every
// implementation must pass, so that adapters are interchangeable.
//
// The suites compare whole values, never a hand-kept list of fields: a field
// that a store forgets, or shares with its callers, fails them. The test
// fixtures set every field, and a check fails when a new field is left unset,
// so that the suites grow with the types they judge.
package porttest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authapi/domain"
	"authapi/ports"
)

// Store is what a storage adapter offers: the ports that share its
// transactions.
type Store interface {
	ports.UserStore
	ports.SessionStore
	ports.Outbox
	ports.LoginThrottle
	ports.AuditLog
	ports.AdminKeyStore
	ports.ChallengeStore
	ports.PasskeyStore
}

// NewStore returns an empty store of its own for each call.
type NewStore func(t *testing.T) Store

// Fixed inputs of the suites.
const (
	codeTTL      = 15 * time.Minute
	testPassword = "correct horse battery staple"
	testHash     = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
)

var (
	testSecrets = domain.CodeSecrets{Code: "482913", Link: "activation-link-token"}
	testKey     = mustCodeKey()
)

func mustCodeKey() domain.CodeKey {
	k, err := domain.NewCodeKey(bytes.Repeat([]byte("porttest"), 4))
	if err != nil {
		panic(err)
	}
	return k
}

// baseTime is when test accounts are created: UTC and a whole number of
// milliseconds, the precision every store must keep.
func baseTime() time.Time {
	return time.Date(2025, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)
}

// diff compares whole values: times as instants (whatever their location),
// and an empty slice as equal to a nil one, since "no code pending" has one
// meaning however a store spells it.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmp.AllowUnexported(ports.UserKey{}))
}

// assertEqual fails the test with the difference of got from want.
func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(want, got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", what, d)
	}
}

// assertEveryFieldSet fails when v, a fixture, leaves a field at its zero
// value, so that a field added to a stored type is added to the fixtures,
// and thus to what the suites check, before the suites pass.
func assertEveryFieldSet(t *testing.T, what string, v any, except ...string) {
	t.Helper()
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	for _, path := range zeroFields(reflect.ValueOf(v), "") {
		if !skip[path] {
			t.Errorf("the %s fixture leaves %s unset; set it, so that the suite checks that stores keep it", what, path)
		}
	}
}

// zeroFields lists the paths of the leaf fields of v that hold zero values.
// Times are leaves; structs are walked into.
func zeroFields(v reflect.Value, prefix string) []string {
	if v.Kind() != reflect.Struct || v.Type() == reflect.TypeOf(time.Time{}) {
		if v.IsZero() {
			return []string{prefix}
		}
		return nil
	}
	var zero []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if prefix != "" {
			name = prefix + "." + f.Name
		}
		zero = append(zero, zeroFields(v.Field(i), name)...)
	}
	return zero
}

// scribble overwrites every byte of every slice reachable from the struct
// that p points to, and every string held in a slice, so that a test can
// tell whether a store shares memory with the values it hands out or takes
// in. It returns how many it overwrote.
func scribble(p any) int {
	return scribbleValue(reflect.ValueOf(p).Elem())
}

func scribbleValue(v reflect.Value) int {
	n := 0
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				n += scribbleValue(v.Field(i))
			}
		}
	case reflect.Slice:
		switch v.Type().Elem().Kind() {
		case reflect.Uint8:
			b := v.Bytes()
			for i := range b {
				b[i] ^= 0xff
			}
			return len(b)
		case reflect.String:
			// A string never changes, but the slice holding it can be
			// shared; the copy's elements are what must be its own.
			for i := range v.Len() {
				v.Index(i).SetString("scribbled " + v.Index(i).String())
			}
			return v.Len()
		}
		for i := range v.Len() {
			n += scribbleValue(v.Index(i))
		}
	}
	return n
}

// clone returns a deep copy of a stored value, to keep as the expectation
// while the original is passed on.
func clone[T any](v T) T {
	c := reflect.New(reflect.TypeOf(v)).Elem()
	deepCopy(c, reflect.ValueOf(v))
	return c.Interface().(T)
}

func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		if src.Type() == reflect.TypeOf(time.Time{}) {
			dst.Set(src)
			return
		}
		for i := range src.NumField() {
			if src.Type().Field(i).IsExported() {
				deepCopy(dst.Field(i), src.Field(i))
			} else {
				panic(fmt.Sprintf("porttest: clone of %s with unexported field %s", src.Type(), src.Type().Field(i).Name))
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
