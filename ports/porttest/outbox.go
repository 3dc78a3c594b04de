package porttest

import (
	"errors"
	"fmt"
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

func due(t *testing.T, s Store, at time.Time) []ports.QueuedMail {
	t.Helper()
	mail, err := s.DueMail(t.Context(), at, 100)
	if err != nil {
		t.Fatalf("DueMail: %v", err)
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
	mail, err := s.DueMail(t.Context(), t0.Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(mail) != 2 || mail[0].ID != "a" || mail[1].ID != "b" {
		t.Errorf("DueMail(limit 2) = %v, want a then b", mail)
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
