package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyLocksSerialiseOneKey(t *testing.T) {
	var locks keyLocks
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			unlock, err := locks.lock(context.Background(), "a@example.com")
			if err != nil {
				t.Error(err)
				return
			}
			now := inside.Add(1)
			for {
				m := most.Load()
				if now <= m || most.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders at once, want 1", most.Load())
	}
	if n := heldKeys(&locks); n != 0 {
		t.Errorf("%d keys remembered after every lock was released, want 0", n)
	}
}

func TestKeyLocksLeaveOtherKeysFree(t *testing.T) {
	var locks keyLocks
	unlockA, err := locks.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlockB, err := locks.lock(ctx, "b")
	if err != nil {
		t.Fatalf("lock of another key waited for the first: %v", err)
	}
	unlockB()
}

func TestKeyLocksGiveUpWhenTheContextEnds(t *testing.T) {
	var locks keyLocks
	unlock, err := locks.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := locks.lock(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock with an ended context = %v, want context.Canceled", err)
	}
	if n := heldKeys(&locks); n != 1 {
		t.Errorf("%d keys remembered, want only the held one", n)
	}
	unlock()
	if n := heldKeys(&locks); n != 0 {
		t.Errorf("%d keys remembered after release, want 0", n)
	}
}

// heldKeys reports how many keys are locked or awaited.
func heldKeys(k *keyLocks) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.locks)
}
