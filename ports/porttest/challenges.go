package porttest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestChallengeStore runs the ports.ChallengeStore contract.
func TestChallengeStore(t *testing.T, newStore NewStore) {
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "challenge", fullChallenge("c1", "u1", baseTime()))
	})
	t.Run("create, answer, read back", func(t *testing.T) { testChallengeRoundTrip(t, newStore) })
	t.Run("unknown challenge", func(t *testing.T) { testChallengeUnknown(t, newStore) })
	t.Run("concurrent answers take turns", func(t *testing.T) { testChallengeTurns(t, newStore) })
	t.Run("expired challenges are pruned, and go with their account", func(t *testing.T) { testChallengePrune(t, newStore) })
}

func fullChallenge(id, userID string, at time.Time) domain.Challenge {
	return domain.Challenge{
		ID: id, Purpose: domain.ChallengeLoginMFA, UserID: userID, Data: []byte("ceremony data"),
		CreatedAt: at, ExpiresAt: at.Add(domain.MFAChallengeTTL), Failures: 2, UsedAt: at.Add(time.Minute),
		AMR: []string{domain.AMRPassword},
	}
}

func testChallengeRoundTrip(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	full := fullChallenge("full", users[0], baseTime())
	if err := s.CreateChallenge(t.Context(), full); err != nil {
		t.Fatalf("CreateChallenge: %v", err)
	}
	fresh := fullChallenge("fresh", users[0], baseTime())
	fresh.Failures, fresh.UsedAt, fresh.Data, fresh.UserID = 0, time.Time{}, nil, ""
	if err := s.CreateChallenge(t.Context(), fresh); err != nil {
		t.Fatalf("CreateChallenge: %v", err)
	}
	got, err := s.UpdateChallenge(t.Context(), "full", func(c *domain.Challenge) error {
		assertEqual(t, "the challenge UpdateChallenge loaded", *c, full)
		c.Fail()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	full.Failures++
	assertEqual(t, "the answered challenge", got, full)
	got, err = s.UpdateChallenge(t.Context(), "fresh", func(c *domain.Challenge) error {
		assertEqual(t, "a challenge without account, data or answers", *c, fresh)
		c.Use(baseTime().Add(time.Second))
		c.Data = []byte("finished")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.UpdateChallenge(t.Context(), "fresh", func(*domain.Challenge) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the used challenge read back", again, got)
	refused := errors.New("refused")
	if _, err := s.UpdateChallenge(t.Context(), "full", func(c *domain.Challenge) error { c.Fail(); return refused }); !errors.Is(err, refused) {
		t.Fatalf("UpdateChallenge = %v, want the update's error", err)
	}
	after, _ := s.UpdateChallenge(t.Context(), "full", func(*domain.Challenge) error { return nil })
	if after.Failures != full.Failures {
		t.Errorf("a refused update was saved: %d failures, want %d", after.Failures, full.Failures)
	}
}

func testChallengeUnknown(t *testing.T, newStore NewStore) {
	s := newStore(t)
	for _, id := range []string{"nope", "", "with\x00nul", "bad\xffutf8"} {
		if _, err := s.UpdateChallenge(t.Context(), id, func(*domain.Challenge) error { return nil }); !errors.Is(err, domain.ErrChallengeNotFound) {
			t.Errorf("UpdateChallenge(%q) = %v, want ErrChallengeNotFound", id, err)
		}
	}
}

// testChallengeTurns answers one challenge from many goroutines at once, as
// replicas may: no answer is lost.
func testChallengeTurns(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	c := fullChallenge("c", users[0], baseTime())
	c.Failures, c.UsedAt = 0, time.Time{}
	if err := s.CreateChallenge(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.UpdateChallenge(t.Context(), "c", func(c *domain.Challenge) error { c.Fail(); return nil }); err != nil {
				t.Errorf("UpdateChallenge: %v", err)
			}
		})
	}
	wg.Wait()
	got, _ := s.UpdateChallenge(t.Context(), "c", func(*domain.Challenge) error { return nil })
	if got.Failures != 8 {
		t.Errorf("%d failures after 8 concurrent answers: answers were lost", got.Failures)
	}
}

func testChallengePrune(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	for i, id := range []string{"old", "new", "other"} {
		owner := users[0]
		if id == "other" {
			owner = users[1]
		}
		c := fullChallenge(id, owner, t0.Add(time.Duration(i)*time.Hour))
		if err := s.CreateChallenge(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneChallenges(t.Context(), t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneChallenges = %d, %v; want the one expired before", n, err)
	}
	if _, err := s.UpdateChallenge(t.Context(), "old", func(*domain.Challenge) error { return nil }); !errors.Is(err, domain.ErrChallengeNotFound) {
		t.Errorf("a pruned challenge = %v", err)
	}
	if err := s.DeleteUser(t.Context(), users[1], ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateChallenge(t.Context(), "other", func(*domain.Challenge) error { return nil }); !errors.Is(err, domain.ErrChallengeNotFound) {
		t.Errorf("the challenge of a deleted account = %v, want it gone", err)
	}
	if _, err := s.UpdateChallenge(t.Context(), "new", func(*domain.Challenge) error { return nil }); err != nil {
		t.Errorf("the live challenge of the other account: %v", err)
	}
}
