package porttest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestOutbox runs the ports.Outbox contract, together with the mail-queuing
// part of ports.UserStore, against the stores newStore returns.
func TestOutbox(t *testing.T, newStore NewStore) {
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "queued mail", ports.QueuedMail{OutgoingMail: testMail("m1", "slot", baseTime()), Attempts: 1})
	})
	t.Run("mail queued with a new account", func(t *testing.T) { testQueueOnCreate(t, newStore) })
	t.Run("no mail for a refused account", func(t *testing.T) { testNoMailOnDuplicate(t, newStore) })
	t.Run("mail queued with an update", func(t *testing.T) { testQueueOnUpdate(t, newStore) })
	t.Run("a slot keeps only the newest unsent message", func(t *testing.T) { testSupersede(t, newStore) })
	t.Run("delivery outcomes", func(t *testing.T) { testOutcomes(t, newStore) })
	t.Run("due order and limit", func(t *testing.T) { testDueOrder(t, newStore) })
	t.Run("prune keeps pending mail", func(t *testing.T) { testPrune(t, newStore) })
	t.Run("mail queued with a deletion", func(t *testing.T) { testQueueOnDelete(t, newStore) })
	t.Run("a claim holds messages for its lease", func(t *testing.T) { testClaimLease(t, newStore) })
	t.Run("a released message is due again", func(t *testing.T) { testRelease(t, newStore) })
	t.Run("concurrent claims share nothing", func(t *testing.T) { testConcurrentClaims(t, newStore) })
}

// mailOf is the effects of queuing msgs.
func mailOf(msgs ...ports.OutgoingMail) ports.Effects { return ports.Effects{Mail: msgs} }

func testMail(id, slot string, queuedAt time.Time) ports.OutgoingMail {
	return ports.OutgoingMail{
		Message: ports.Message{
			ID: id, To: "someone@example.com", Subject: "Your activation code — " + id,
			Text: "code 482913 for " + id, HTML: "<p>482913</p>",
		},
		Slot:      slot,
		ExpiresAt: queuedAt.Add(codeTTL),
		QueuedAt:  queuedAt,
	}
}

// due claims the messages due at at with a lease of nothing, so that they
// are due again at the same time and the next look finds them.
func due(t *testing.T, s Store, at time.Time) []ports.QueuedMail {
	t.Helper()
	mail, err := s.ClaimMail(t.Context(), at, 0, 100)
	if err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	return mail
}

func dueIDs(t *testing.T, s Store, at time.Time) []string {
	t.Helper()
	var ids []string
	for _, m := range due(t, s, at) {
		ids = append(ids, m.ID)
	}
	return ids
}

func stats(t *testing.T, s Store, at time.Time) ports.MailStats {
	t.Helper()
	st, err := s.MailStats(t.Context(), at)
	if err != nil {
		t.Fatalf("MailStats: %v", err)
	}
	return st
}

func testQueueOnCreate(t *testing.T, newStore NewStore) {
	s := newStore(t)
	queued := baseTime()
	mail := testMail("m1", "activation:1", queued)
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"), mailOf(mail)); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got := due(t, s, queued.Add(-time.Millisecond)); len(got) != 0 {
		t.Errorf("mail due before it was queued: %+v", got)
	}
	assertEqual(t, "due mail", due(t, s, queued), []ports.QueuedMail{{OutgoingMail: mail}})
	if st := stats(t, s, queued.Add(time.Minute)); st != (ports.MailStats{Pending: 1, OldestPending: time.Minute}) {
		t.Errorf("stats = %+v, want one pending for a minute", st)
	}
}

func testNoMailOnDuplicate(t *testing.T, newStore NewStore) {
	s := newStore(t)
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"), ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	err := s.CreateUser(t.Context(), newTestUser(t, 2, "someone@example.com"), mailOf(testMail("m1", "", baseTime())))
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("duplicate CreateUser = %v", err)
	}
	if got := dueIDs(t, s, baseTime().Add(time.Hour)); len(got) != 0 {
		t.Errorf("mail of a refused account was queued: %v", got)
	}
}

func testQueueOnUpdate(t *testing.T, newStore NewStore) {
	s := newStore(t)
	u := newTestUser(t, 1, "someone@example.com")
	if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	refused := errors.New("refused")
	_, err := s.UpdateUser(t.Context(), ports.UserEmail(u.Email), func(*domain.User) (ports.Effects, error) {
		return mailOf(testMail("lost", "", baseTime())), refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateUser = %v, want the update's error", err)
	}
	_, err = s.UpdateUser(t.Context(), ports.UserEmail(u.Email), func(*domain.User) (ports.Effects, error) {
		return mailOf(testMail("kept", "", baseTime())), nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got := dueIDs(t, s, baseTime()); fmt.Sprint(got) != "[kept]" {
		t.Errorf("due = %v, want only the mail of the saved update", got)
	}
}

func testSupersede(t *testing.T, newStore NewStore) {
	s := newStore(t)
	u := newTestUser(t, 1, "someone@example.com")
	if err := s.CreateUser(t.Context(), u, mailOf(testMail("first", "activation:1", baseTime()), testMail("other", "activation:2", baseTime()))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	later := baseTime().Add(time.Minute)
	_, err := s.UpdateUser(t.Context(), ports.UserEmail(u.Email), func(*domain.User) (ports.Effects, error) {
		return mailOf(testMail("second", "activation:1", later)), nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got := dueIDs(t, s, later); fmt.Sprint(got) != "[other second]" {
		t.Errorf("due = %v, want the other slot's message and the newest of this slot", got)
	}
	if st := stats(t, s, later); st.Pending != 2 || st.Superseded != 1 {
		t.Errorf("stats = %+v", st)
	}
	// A sent message is history, not something to supersede.
	if err := s.MarkSent(t.Context(), "second", later); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateUser(t.Context(), ports.UserEmail(u.Email), func(*domain.User) (ports.Effects, error) {
		return mailOf(testMail("third", "activation:1", later)), nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if st := stats(t, s, later); st.Sent != 1 || st.Superseded != 1 || st.Pending != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func testOutcomes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"),
		mailOf(testMail("sent", "", t0), testMail("retried", "", t0), testMail("dead", "", t0))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	ctx := t.Context()
	if err := s.MarkSent(ctx, "sent", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryLater(ctx, "retried", 2, t0.Add(time.Minute), "connection refused"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "dead", 3, t0, "550 no such mailbox"); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, t0.Add(time.Minute-time.Millisecond)); len(got) != 0 {
		t.Errorf("due before the retry time: %v", got)
	}
	assertEqual(t, "due at the retry time", due(t, s, t0.Add(time.Minute)),
		[]ports.QueuedMail{{OutgoingMail: testMail("retried", "", t0), Attempts: 2}})
	if st := stats(t, s, t0.Add(time.Minute)); st != (ports.MailStats{Pending: 1, Sent: 1, Dead: 1, OldestPending: time.Minute}) {
		t.Errorf("stats = %+v", st)
	}
	// Settled messages stay settled.
	if err := s.RetryLater(ctx, "sent", 1, t0, "late failure report"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "sent", 1, t0, "late"); err != nil {
		t.Fatal(err)
	}
	if st := stats(t, s, t0); st.Sent != 1 || st.Dead != 1 {
		t.Errorf("a settled message changed state: %+v", st)
	}
}

func testDueOrder(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"),
		mailOf(testMail("b", "", t0.Add(2*time.Second)), testMail("a", "", t0.Add(time.Second)), testMail("c", "", t0.Add(3*time.Second)))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	mail, err := s.ClaimMail(t.Context(), t0.Add(time.Hour), time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(mail) != 2 || mail[0].ID != "a" || mail[1].ID != "b" {
		t.Errorf("ClaimMail(limit 2) = %v, want a then b", mail)
	}
}

func testPrune(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"),
		mailOf(testMail("old-sent", "", t0), testMail("old-pending", "", t0), testMail("new-sent", "", t0.Add(time.Hour)))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, id := range []string{"old-sent", "new-sent"} {
		if err := s.MarkSent(t.Context(), id, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneMail(t.Context(), t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneMail = %d, %v; want 1 (only the old sent message)", n, err)
	}
	if st := stats(t, s, t0); st.Pending != 1 || st.Sent != 1 {
		t.Errorf("stats after prune = %+v", st)
	}
}

func testQueueOnDelete(t *testing.T, newStore NewStore) {
	s := newStore(t)
	u := newTestUser(t, 1, "someone@example.com")
	if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	notice := testMail("deleted", "", baseTime())
	if err := s.DeleteUser(t.Context(), u.ID, mailOf(notice)); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	assertEqual(t, "due after the deletion", due(t, s, baseTime()), []ports.QueuedMail{{OutgoingMail: notice}})
	if err := s.DeleteUser(t.Context(), u.ID, mailOf(testMail("again", "", baseTime()))); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("second DeleteUser = %v, want ErrUserNotFound", err)
	}
	if got := dueIDs(t, s, baseTime()); fmt.Sprint(got) != "[deleted]" {
		t.Errorf("due = %v: a refused deletion queued its mail", got)
	}
}

func testClaimLease(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"),
		mailOf(testMail("a", "", t0), testMail("b", "", t0.Add(time.Second)))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	const lease = 2 * time.Minute
	claimAt := t0.Add(time.Minute)
	claimed, err := s.ClaimMail(t.Context(), claimAt, lease, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the first claim", claimed, []ports.QueuedMail{{OutgoingMail: testMail("a", "", t0)}})
	if got := dueIDs(t, s, claimAt); fmt.Sprint(got) != "[b]" {
		t.Errorf("due beside the claim = %v, want only the unclaimed message", got)
	}
	if got := dueIDs(t, s, claimAt.Add(lease-time.Millisecond)); fmt.Sprint(got) != "[b]" {
		t.Errorf("due just before the lease runs out = %v, want only the unclaimed message", got)
	}
	// The claimer died: when the lease runs out, the message is due again,
	// not lost, and the claim did not count as an attempt.
	// (b comes first now: the looks above left it due before a.)
	assertEqual(t, "due when the lease has run out", due(t, s, claimAt.Add(lease)),
		[]ports.QueuedMail{{OutgoingMail: testMail("b", "", t0.Add(time.Second))}, {OutgoingMail: testMail("a", "", t0)}})
	// A claimer records its outcome as any dispatcher does.
	claimed, err = s.ClaimMail(t.Context(), claimAt.Add(lease), lease, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimMail = %v, %v; want both messages", claimed, err)
	}
	if err := s.MarkSent(t.Context(), "a", claimAt.Add(lease)); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryLater(t.Context(), "b", 1, claimAt.Add(lease+time.Second), "timeout"); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "due after the outcomes", due(t, s, claimAt.Add(lease+time.Second)),
		[]ports.QueuedMail{{OutgoingMail: testMail("b", "", t0.Add(time.Second)), Attempts: 1}})
}

func testRelease(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"), mailOf(testMail("a", "", t0))); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if claimed, err := s.ClaimMail(t.Context(), t0, time.Hour, 10); err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimMail = %v, %v; want the message", claimed, err)
	}
	if err := s.RescheduleMail(t.Context(), "a", t0.Add(time.Second)); err != nil {
		t.Fatalf("RescheduleMail: %v", err)
	}
	if got := dueIDs(t, s, t0.Add(time.Second-time.Millisecond)); len(got) != 0 {
		t.Errorf("due before the release time: %v", got)
	}
	assertEqual(t, "due at the release time", due(t, s, t0.Add(time.Second)), []ports.QueuedMail{{OutgoingMail: testMail("a", "", t0)}})
	// Releasing a settled message changes nothing.
	if err := s.MarkSent(t.Context(), "a", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RescheduleMail(t.Context(), "a", t0); err != nil {
		t.Fatalf("RescheduleMail of a sent message: %v", err)
	}
	if st := stats(t, s, t0.Add(time.Second)); st.Sent != 1 || st.Pending != 0 {
		t.Errorf("stats after releasing a sent message = %+v", st)
	}
}

// testConcurrentClaims claims from many goroutines at once, as replicas do:
// every message is claimed exactly once.
func testConcurrentClaims(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	const messages, claimers = 60, 8
	var mail []ports.OutgoingMail
	for i := range messages {
		mail = append(mail, testMail(fmt.Sprintf("m%02d", i), "", t0))
	}
	if err := s.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com"), mailOf(mail...)); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
	)
	for range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded, so that a store whose claims hold nothing ends too.
			for range messages {
				batch, err := s.ClaimMail(t.Context(), t0, time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimMail: %v", err)
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				for _, m := range batch {
					claimed[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != messages {
		t.Errorf("%d of %d messages were claimed", len(claimed), messages)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %s was claimed %d times", id, n)
		}
	}
}
