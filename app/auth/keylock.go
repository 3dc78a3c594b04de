package auth

import (
	"context"
	"sync"
)

// keyLocks hands out one lock per key, such as an email address, and forgets
// a key once nobody holds or waits for it, so its size follows the requests
// in flight rather than every key ever seen.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	// token has room for one value: whoever put it there holds the lock.
	token chan struct{}
	// users counts holders and waiters; the entry goes when it reaches zero.
	users int
}

// lock waits until it holds the lock for key, or ctx ends. The returned
// function releases it.
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{token: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()

	select {
	case l.token <- struct{}{}:
		return func() {
			<-l.token
			k.leave(key, l)
		}, nil
	case <-ctx.Done():
		k.leave(key, l)
		return nil, ctx.Err()
	}
}

func (k *keyLocks) leave(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l.users--
	if l.users == 0 {
		delete(k.locks, key)
	}
}
