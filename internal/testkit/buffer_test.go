package testkit_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"authapi/internal/testkit"
)

// TestBufferConcurrently writes log lines from many goroutines while reading
// the buffer; run with -race, it proves the buffer needs no lock of the
// caller's, and every line arrives whole.
func TestBufferConcurrently(t *testing.T) {
	var buf testkit.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	const goroutines, lines = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				log.Info("line", "writer", g, "n", i)
				_ = buf.String()
			}
		})
	}
	wg.Wait()

	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != goroutines*lines {
		t.Fatalf("the buffer holds %d lines, want %d", len(got), goroutines*lines)
	}
	seen := map[string]bool{}
	for _, line := range got {
		_, rest, ok := strings.Cut(line, " msg=line ")
		if !ok || seen[rest] {
			t.Errorf("line %q is torn or repeated", line)
		}
		seen[rest] = true
	}
	for g := range goroutines {
		if want := fmt.Sprintf("writer=%d n=%d", g, lines-1); !seen[want] {
			t.Errorf("no line %q", want)
		}
	}
}

func TestBufferStartsEmpty(t *testing.T) {
	var buf testkit.Buffer
	if got := buf.String(); got != "" {
		t.Errorf("String() = %q, want empty", got)
	}
	fmt.Fprintf(&buf, "a%d", 1)
	fmt.Fprint(&buf, "b")
	if got := buf.String(); got != "a1b" {
		t.Errorf("String() = %q, want %q", got, "a1b")
	}
}
