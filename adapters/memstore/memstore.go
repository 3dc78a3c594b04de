// Package memstore is an in-memory ports.UserStore and ports.Outbox for tests
// and examples. It obeys the same contracts as the SQLite store (see
// porttest), so tests written against it mean the same against the database.
package memstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"authapi/domain"
	"authapi/ports"
)

var (
	_ ports.UserStore    = (*Store)(nil)
	_ ports.Outbox       = (*Store)(nil)
	_ ports.SessionStore = (*Store)(nil)
)

var errIdentityChanged = errors.New("memstore: update user: the update changed the account's id or email")

// Mail states, as the SQLite store names them.
const (
	statePending    = "pending"
	stateSent       = "sent"
	stateDead       = "dead"
	stateSuperseded = "superseded"
)

type mailRecord struct {
	ports.QueuedMail
	state       string
	nextAttempt time.Time
	lastError   string
}

// Store keeps accounts and queued mail in memory, guarded by one mutex.
type Store struct {
	mu       sync.Mutex
	byID     map[string]domain.User
	idByKey  map[domain.Email]string
	mail     []*mailRecord
	sessions map[string]domain.Session
}

// New returns an empty store.
func New() *Store {
	return &Store{byID: map[string]domain.User{}, idByKey: map[domain.Email]string{}, sessions: map[string]domain.Session{}}
}

// CreateUser stores u and queues mail, or returns domain.ErrEmailTaken.
func (s *Store) CreateUser(_ context.Context, u domain.User, mail ...ports.OutgoingMail) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.idByKey[u.Email]; taken {
		return domain.ErrEmailTaken
	}
	s.byID[u.ID] = clone(u)
	s.idByKey[u.Email] = u.ID
	s.queue(mail)
	return nil
}

// DeleteUser deletes the account with id and its sessions.
func (s *Store) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return domain.ErrUserNotFound
	}
	delete(s.byID, id)
	delete(s.idByKey, u.Email)
	for sid, sess := range s.sessions {
		if sess.UserID == id {
			delete(s.sessions, sid)
		}
	}
	return nil
}

// UserByEmail returns the account with email, or domain.ErrUserNotFound.
func (s *Store) UserByEmail(_ context.Context, email domain.Email) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.idByKey[email]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	return clone(s.byID[id]), nil
}

// UserByID returns the account with id, or domain.ErrUserNotFound.
func (s *Store) UserByID(_ context.Context, id string) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	return clone(u), nil
}

// UpdateUser applies update to the account with email while holding the lock,
// which serializes updates as the database's write transaction does.
func (s *Store) UpdateUser(_ context.Context, email domain.Email, update func(*domain.User) ([]ports.OutgoingMail, error)) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.idByKey[email]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	u := clone(s.byID[id])
	mail, err := update(&u)
	if err != nil {
		return domain.User{}, err
	}
	if u.ID != id || u.Email != email {
		// The SQLite store refuses this too: accounts are found by email and
		// saved by id, so changing either would lose track of the account.
		return domain.User{}, errIdentityChanged
	}
	s.byID[id] = clone(u)
	s.queue(mail)
	return clone(u), nil
}

// queue adds mail, superseding unsent messages of the same slot. The caller
// holds the lock.
func (s *Store) queue(mail []ports.OutgoingMail) {
	for _, m := range mail {
		if m.Slot != "" {
			for _, r := range s.mail {
				if r.Slot == m.Slot && r.state == statePending {
					r.state = stateSuperseded
					r.Text, r.HTML = "", ""
				}
			}
		}
		s.mail = append(s.mail, &mailRecord{
			QueuedMail:  ports.QueuedMail{OutgoingMail: m},
			state:       statePending,
			nextAttempt: m.QueuedAt,
		})
	}
}

// DueMail returns pending messages due at now, oldest first.
func (s *Store) DueMail(_ context.Context, now time.Time, limit int) ([]ports.QueuedMail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*mailRecord
	for _, r := range s.mail {
		if r.state == statePending && !r.nextAttempt.After(now) {
			due = append(due, r)
		}
	}
	slices.SortStableFunc(due, func(a, b *mailRecord) int { return a.nextAttempt.Compare(b.nextAttempt) })
	var out []ports.QueuedMail
	for _, r := range due[:min(limit, len(due))] {
		out = append(out, r.QueuedMail)
	}
	return out, nil
}

// MarkSent records a delivery and forgets the body.
func (s *Store) MarkSent(_ context.Context, id string, _ time.Time) error {
	return s.settle(id, func(r *mailRecord) {
		r.state = stateSent
		r.Text, r.HTML = "", ""
	})
}

// RetryLater records a failed attempt.
func (s *Store) RetryLater(_ context.Context, id string, attempts int, next time.Time, lastError string) error {
	return s.settle(id, func(r *mailRecord) {
		r.Attempts, r.nextAttempt, r.lastError = attempts, next, lastError
	})
}

// MarkDead gives up on a message and forgets its body.
func (s *Store) MarkDead(_ context.Context, id string, attempts int, _ time.Time, reason string) error {
	return s.settle(id, func(r *mailRecord) {
		r.state, r.Attempts, r.lastError = stateDead, attempts, reason
		r.Text, r.HTML = "", ""
	})
}

// settle changes a pending message; messages in other states stay as they are.
func (s *Store) settle(id string, change func(*mailRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.mail {
		if r.ID == id && r.state == statePending {
			change(r)
		}
	}
	return nil
}

// MailStats counts messages by state.
func (s *Store) MailStats(_ context.Context, now time.Time) (ports.MailStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st ports.MailStats
	for _, r := range s.mail {
		switch r.state {
		case statePending:
			st.Pending++
			st.OldestPending = max(st.OldestPending, now.Sub(r.QueuedAt))
		case stateSent:
			st.Sent++
		case stateDead:
			st.Dead++
		case stateSuperseded:
			st.Superseded++
		}
	}
	return st, nil
}

// PruneMail deletes settled messages queued before the given time.
func (s *Store) PruneMail(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.mail)
	s.mail = slices.DeleteFunc(s.mail, func(r *mailRecord) bool {
		return r.state != statePending && r.QueuedAt.Before(before)
	})
	return n - len(s.mail), nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(_ context.Context, sess domain.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[sess.UserID]; !ok {
		return errors.New("memstore: create session: no such user")
	}
	if _, dup := s.sessions[sess.ID]; dup {
		return errors.New("memstore: create session: duplicate id")
	}
	s.sessions[sess.ID] = sess
	return nil
}

// Session returns a session.
func (s *Store) Session(_ context.Context, id string) (domain.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	return sess, nil
}

// UpdateSession changes a session under the lock.
func (s *Store) UpdateSession(_ context.Context, id string, update func(*domain.Session) error) (domain.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	if err := update(&sess); err != nil {
		return domain.Session{}, err
	}
	sess.ID, sess.UserID = id, s.sessions[id].UserID
	s.sessions[id] = sess
	return sess, nil
}

// SessionsOfUser returns the user's live sessions, newest first.
func (s *Store) SessionsOfUser(_ context.Context, userID string, now time.Time) ([]domain.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []domain.Session
	for _, sess := range s.sessions {
		if sess.UserID == userID && sess.Live(now) {
			live = append(live, sess)
		}
	}
	slices.SortFunc(live, func(a, b domain.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return live, nil
}

// RevokeSessions ends the user's live sessions but one.
func (s *Store) RevokeSessions(_ context.Context, userID string, now time.Time, except string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.sessions {
		if sess.UserID == userID && id != except && sess.Live(now) {
			sess.Revoke(now)
			s.sessions[id] = sess
			n++
		}
	}
	return n, nil
}

// clone copies the one reference field, so callers cannot change stored state
// behind the store's back.
func clone(u domain.User) domain.User {
	if u.Activation.CodeHash != nil {
		u.Activation.CodeHash = append([]byte(nil), u.Activation.CodeHash...)
	}
	return u
}
