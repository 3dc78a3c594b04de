package porttest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestPasskeyStore runs the ports.PasskeyStore contract.
func TestPasskeyStore(t *testing.T, newStore NewStore) {
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "passkey", fullPasskey("p1", "u1", baseTime()))
	})
	t.Run("add, then read back whole", func(t *testing.T) { testPasskeyRoundTrip(t, newStore) })
	t.Run("values share no memory with the store", func(t *testing.T) { testPasskeyCopies(t, newStore) })
	t.Run("an account's passkeys list oldest first", func(t *testing.T) { testPasskeyOrder(t, newStore) })
	t.Run("refused additions save nothing", func(t *testing.T) { testPasskeyRefusals(t, newStore) })
	t.Run("each change saves its effects", func(t *testing.T) { testPasskeyEffects(t, newStore) })
	t.Run("an update saves a use or a renaming, nothing else", func(t *testing.T) { testPasskeyUpdate(t, newStore) })
	t.Run("an update's error saves nothing", func(t *testing.T) { testPasskeyUpdateError(t, newStore) })
	t.Run("another account's passkey is not found", func(t *testing.T) { testPasskeyNotFound(t, newStore) })
	t.Run("delete", func(t *testing.T) { testPasskeyDelete(t, newStore) })
	t.Run("concurrent additions stay within the bound", func(t *testing.T) { testPasskeyBound(t, newStore) })
	t.Run("a credential registered by several accounts at once", func(t *testing.T) { testPasskeyCredentialRace(t, newStore) })
	t.Run("concurrent uses never take the sign count back", func(t *testing.T) { testPasskeySignCountRace(t, newStore) })
	t.Run("deleting the account deletes its passkeys", func(t *testing.T) { testPasskeysDeletedWithUser(t, newStore) })
}

// fullPasskey is a passkey in which every field is set, with a credential
// id of bytes that no text column could hold and a sign count past the
// signed 32-bit range.
func fullPasskey(id, userID string, created time.Time) domain.Passkey {
	return domain.Passkey{
		ID:                id,
		UserID:            userID,
		CredentialID:      append([]byte{0x00, 0xff, 0x80}, id...),
		PublicKey:         append([]byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x00}, id...),
		AttestationType:   "basic_full",
		AttestationFormat: "packed",
		AAGUID:            []byte{0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03},
		SignCount:         1<<31 + 7,
		// Browsers report transports of later versions as they are; one
		// with a space must come back whole too.
		Transports:     []string{"usb", "nfc", "hybrid", "a later transport"},
		Attachment:     "cross-platform",
		UserVerified:   true,
		BackupEligible: true,
		BackupState:    true,
		Name:           "Work laptop — Ünïcode",
		CreatedAt:      created,
		LastUsedAt:     created.Add(time.Hour),
	}
}

// newPasskey is a passkey as a plain registration leaves it: never used,
// with no counter, transports or model reported.
func newPasskey(id, userID string, created time.Time) domain.Passkey {
	return domain.Passkey{
		ID:                id,
		UserID:            userID,
		CredentialID:      []byte("credential-" + id),
		PublicKey:         []byte("cose-key-" + id),
		AttestationType:   "none",
		AttestationFormat: "none",
		Name:              domain.DefaultPasskeyName,
		CreatedAt:         created,
	}
}

// passkeyEffects are effects that a test can find again by tag: a message
// with that id and an event of typ about userID.
func passkeyEffects(tag string, typ domain.EventType, userID string, at time.Time) ports.Effects {
	return ports.Effects{
		Mail:   []ports.OutgoingMail{testMail(tag, "", at)},
		Events: []domain.AuditEvent{testEvent(typ, userID, at)},
	}
}

func passkeysOf(t *testing.T, s Store, userID string) []domain.Passkey {
	t.Helper()
	passkeys, err := s.Passkeys(t.Context(), userID)
	if err != nil {
		t.Fatalf("Passkeys: %v", err)
	}
	return passkeys
}

func addPasskeys(t *testing.T, s Store, passkeys ...domain.Passkey) {
	t.Helper()
	for _, p := range passkeys {
		if err := s.AddPasskey(t.Context(), clone(p), ports.Effects{}); err != nil {
			t.Fatalf("AddPasskey(%s): %v", p.ID, err)
		}
	}
}

// assertNothingSaved fails if any mail or audit event was saved.
func assertNothingSaved(t *testing.T, s Store) {
	t.Helper()
	if mail := dueIDs(t, s, baseTime().Add(24*time.Hour)); len(mail) != 0 {
		t.Errorf("mail queued: %v", mail)
	}
	if events := auditOf(t, s, ports.AuditQuery{}); len(events) != 0 {
		t.Errorf("events recorded: %+v", events)
	}
}

func testPasskeyRoundTrip(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	highest := fullPasskey("highest", users[0], baseTime())
	highest.SignCount = math.MaxUint32
	signed := newPasskey("signed", users[0], baseTime())
	signed.SignCount = math.MaxInt32 + 1
	tests := []struct {
		name string
		p    domain.Passkey
	}{
		{"every field set", fullPasskey("full", users[0], baseTime())},
		{"a new passkey", newPasskey("new", users[0], baseTime())},
		{"the highest sign count", highest},
		{"the first sign count past the signed range", signed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.AddPasskey(t.Context(), clone(tt.p), ports.Effects{}); err != nil {
				t.Fatalf("AddPasskey: %v", err)
			}
			got, err := s.PasskeyByCredentialID(t.Context(), tt.p.CredentialID)
			if err != nil {
				t.Fatalf("PasskeyByCredentialID: %v", err)
			}
			assertEqual(t, "the passkey by its credential id", got, tt.p)
			i := slices.IndexFunc(passkeysOf(t, s, users[0]), func(p domain.Passkey) bool { return p.ID == tt.p.ID })
			if i < 0 {
				t.Fatal("the passkey is not among the account's")
			}
			assertEqual(t, "the passkey among the account's", passkeysOf(t, s, users[0])[i], tt.p)
		})
	}
}

func testPasskeyCopies(t *testing.T, newStore NewStore) {
	// Each case obtains a passkey that must share nothing with the store's
	// state, scribbles over every slice it holds, and expects the stored
	// passkey unchanged.
	keep := func(update func(*domain.Passkey)) func(*domain.Passkey) (ports.Effects, error) {
		return func(p *domain.Passkey) (ports.Effects, error) { update(p); return ports.Effects{}, nil }
	}
	tests := []struct {
		name   string
		obtain func(t *testing.T, s Store, p domain.Passkey) domain.Passkey
	}{
		{"passkey passed to AddPasskey", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey { return p }},
		{"Passkeys result", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey {
			return passkeysOf(t, s, p.UserID)[0]
		}},
		{"PasskeyByCredentialID result", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey {
			got, err := s.PasskeyByCredentialID(t.Context(), clone(p.CredentialID))
			if err != nil {
				t.Fatalf("PasskeyByCredentialID: %v", err)
			}
			return got
		}},
		{"UpdatePasskey result", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey {
			got, err := s.UpdatePasskey(t.Context(), p.UserID, p.ID, keep(func(*domain.Passkey) {}))
			if err != nil {
				t.Fatalf("UpdatePasskey: %v", err)
			}
			return got
		}},
		{"passkey given to update", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey {
			var kept *domain.Passkey
			if _, err := s.UpdatePasskey(t.Context(), p.UserID, p.ID, keep(func(p *domain.Passkey) { kept = p })); err != nil {
				t.Fatalf("UpdatePasskey: %v", err)
			}
			return *kept
		}},
		{"passkey given to DeletePasskey's effects", func(t *testing.T, s Store, p domain.Passkey) domain.Passkey {
			var kept domain.Passkey
			refused := errors.New("refused")
			err := s.DeletePasskey(t.Context(), p.UserID, p.ID, func(p domain.Passkey) (ports.Effects, error) { kept = p; return ports.Effects{}, refused })
			if !errors.Is(err, refused) {
				t.Fatalf("DeletePasskey = %v, want the effects' error", err)
			}
			return kept
		}},
	}
	s, users := storeWithUsers(t, newStore, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := fullPasskey(fmt.Sprintf("copied-%d", i), users[i], baseTime())
			want := clone(orig)
			if err := s.AddPasskey(t.Context(), orig, ports.Effects{}); err != nil {
				t.Fatalf("AddPasskey: %v", err)
			}
			obtained := tt.obtain(t, s, orig)
			if scribble(&obtained) == 0 {
				t.Fatal("the obtained passkey holds no slice to change")
			}
			assertEqual(t, "stored after a change to a copy", passkeysOf(t, s, users[i]), []domain.Passkey{want})
		})
	}
}

func testPasskeyOrder(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	// Added in neither the order of their ids nor that of their times; two
	// were made in the same millisecond, which their ids order.
	last := newPasskey("0", users[0], t0.Add(2*time.Second))
	tieB := newPasskey("b", users[0], t0.Add(time.Second))
	tieA := newPasskey("a", users[0], t0.Add(time.Second))
	first := newPasskey("c", users[0], t0)
	other := newPasskey("other", users[1], t0.Add(time.Millisecond))
	addPasskeys(t, s, last, tieB, other, tieA, first)
	assertEqual(t, "the account's passkeys", passkeysOf(t, s, users[0]), []domain.Passkey{first, tieA, tieB, last})
	assertEqual(t, "the other account's passkeys", passkeysOf(t, s, users[1]), []domain.Passkey{other})
	for _, id := range []string{"no-such-account", "", "with\x00nul", "bad\xffutf8"} {
		if got := passkeysOf(t, s, id); len(got) != 0 {
			t.Errorf("Passkeys(%q) = %+v, want none", id, got)
		}
	}
}

func testPasskeyRefusals(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 4)
	mine, full, empty, deleted := users[0], users[1], users[2], users[3]
	registered := fullPasskey("registered", mine, baseTime())
	addPasskeys(t, s, registered)
	for i := range domain.MaxPasskeys {
		addPasskeys(t, s, newPasskey(fmt.Sprintf("full-%02d", i), full, baseTime()))
	}
	if err := s.DeleteUser(t.Context(), deleted, ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	again := func(id, userID string) domain.Passkey {
		p := newPasskey(id, userID, baseTime())
		p.CredentialID = clone(registered.CredentialID)
		return p
	}
	tests := []struct {
		name string
		p    domain.Passkey
		want error
	}{
		{"a credential the account registered", again("again", mine), domain.ErrPasskeyExists},
		{"a credential another account registered", again("taken", empty), domain.ErrPasskeyExists},
		{"an account with as many passkeys as it may have", newPasskey("one-too-many", full, baseTime()), domain.ErrTooManyPasskeys},
		{"an account that was deleted", newPasskey("orphan", deleted, baseTime()), domain.ErrUserNotFound},
		{"an account that never was", newPasskey("stray", "no-such-account", baseTime()), domain.ErrUserNotFound},
		{"an account id no row could hold", newPasskey("odd", "bad\xff\x00id", baseTime()), domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddPasskey(t.Context(), tt.p, passkeyEffects(tt.p.ID, domain.EventPasskeyAdded, tt.p.UserID, baseTime()))
			if !errors.Is(err, tt.want) {
				t.Fatalf("AddPasskey = %v, want %v", err, tt.want)
			}
		})
	}
	assertNothingSaved(t, s)
	got, err := s.PasskeyByCredentialID(t.Context(), registered.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the registered credential", got, registered)
	for _, tt := range []struct {
		userID string
		want   int
	}{{mine, 1}, {full, domain.MaxPasskeys}, {empty, 0}, {deleted, 0}} {
		if got := len(passkeysOf(t, s, tt.userID)); got != tt.want {
			t.Errorf("an account has %d passkeys after refusals, want %d", got, tt.want)
		}
	}
}

func testPasskeyEffects(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	owner, other := users[0], users[1]
	t0 := baseTime()
	for _, sess := range []domain.Session{newTestSession("kept", owner, t0), newTestSession("ended", owner, t0), newTestSession("others", other, t0)} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	added := passkeyEffects("added", domain.EventPasskeyAdded, owner, t0)
	if err := s.AddPasskey(t.Context(), newPasskey("p", owner, t0), added); err != nil {
		t.Fatal(err)
	}
	renamed := passkeyEffects("renamed", domain.EventPasskeyRenamed, owner, t0.Add(time.Minute))
	if _, err := s.UpdatePasskey(t.Context(), owner, "p", func(p *domain.Passkey) (ports.Effects, error) {
		p.Name = "Phone"
		return renamed, nil
	}); err != nil {
		t.Fatal(err)
	}
	removed := passkeyEffects("removed", domain.EventPasskeyRemoved, owner, t0.Add(2*time.Minute))
	removed.EndSessions = &ports.EndSessions{At: t0.Add(2 * time.Minute), Except: "kept"}
	if err := s.DeletePasskey(t.Context(), owner, "p", func(domain.Passkey) (ports.Effects, error) { return removed, nil }); err != nil {
		t.Fatal(err)
	}

	assertEqual(t, "the mail queued", dueIDs(t, s, t0.Add(time.Hour)), []string{"added", "renamed", "removed"})
	assertEqual(t, "the events recorded", withoutIDs(t, auditOf(t, s, ports.AuditQuery{})),
		[]domain.AuditEvent{removed.Events[0], renamed.Events[0], added.Events[0]})
	for _, tt := range []struct {
		id      string
		revoked bool
	}{{"kept", false}, {"ended", true}, {"others", false}} {
		sess, err := s.Session(t.Context(), tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if revoked := !sess.RevokedAt.IsZero(); revoked != tt.revoked {
			t.Errorf("session %q revoked = %v, want %v: the effects are the passkey owner's", tt.id, revoked, tt.revoked)
		}
	}
}

func testPasskeyUpdate(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	orig := fullPasskey("p", users[0], baseTime())
	orig.SignCount = 41
	addPasskeys(t, s, orig)
	used := baseTime().Add(3 * time.Hour)
	got, err := s.UpdatePasskey(t.Context(), users[0], "p", func(p *domain.Passkey) (ports.Effects, error) {
		assertEqual(t, "the passkey UpdatePasskey loaded", *p, orig)
		p.Use(math.MaxUint32-1, false, used)
		p.Name = "Renamed"
		// The credential itself: no use or renaming changes it, neither in
		// place nor by replacing it.
		scribble(p)
		p.ID, p.UserID, p.CredentialID, p.PublicKey = "moved", "someone else", []byte("other credential"), []byte("other key")
		p.AttestationType, p.AttestationFormat, p.AAGUID = "self", "tpm", make([]byte, 16)
		p.Transports, p.Attachment = []string{"internal"}, "platform"
		p.UserVerified, p.BackupEligible, p.CreatedAt = false, false, used
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatalf("UpdatePasskey: %v", err)
	}
	want := clone(orig)
	want.SignCount, want.BackupState, want.LastUsedAt, want.Name = math.MaxUint32-1, false, used, "Renamed"
	assertEqual(t, "the passkey UpdatePasskey returned", got, want)
	assertEqual(t, "the account's passkeys", passkeysOf(t, s, users[0]), []domain.Passkey{want})
	byCredential, err := s.PasskeyByCredentialID(t.Context(), orig.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the passkey by its credential id", byCredential, want)
	if _, err := s.PasskeyByCredentialID(t.Context(), []byte("other credential")); !errors.Is(err, domain.ErrPasskeyNotFound) {
		t.Errorf("the credential id an update set = %v, want it not saved", err)
	}
}

func testPasskeyUpdateError(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		err  error
	}{
		{"a counter that went backwards", ports.ErrPasskeyCloned},
		{"a domain refusal", domain.ErrInvalidPasskey},
		{"an error of the caller's", errors.New("refused")},
	}
	s, users := storeWithUsers(t, newStore, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := fullPasskey(fmt.Sprintf("p%d", i), users[i], baseTime())
			addPasskeys(t, s, orig)
			_, err := s.UpdatePasskey(t.Context(), users[i], orig.ID, func(p *domain.Passkey) (ports.Effects, error) {
				p.Use(1, false, baseTime().Add(time.Hour))
				p.Name = "Changed"
				return passkeyEffects(orig.ID, domain.EventPasskeyCloneSuspected, users[i], baseTime()), tt.err
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("UpdatePasskey = %v, want the update's error %v", err, tt.err)
			}
			assertEqual(t, "the passkey after a refused update", passkeysOf(t, s, users[i]), []domain.Passkey{orig})
			assertNothingSaved(t, s)
		})
	}
}

func testPasskeyNotFound(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	mine, theirs := fullPasskey("mine", users[0], baseTime()), fullPasskey("theirs", users[1], baseTime())
	addPasskeys(t, s, mine, theirs)
	tests := []struct {
		name       string
		userID, id string
	}{
		{"a passkey that never was", users[0], "nope"},
		{"another account's passkey", users[0], "theirs"},
		{"an account that never was", "no-such-account", "mine"},
		{"an empty id", users[0], ""},
		{"an id with a NUL byte", users[0], "with\x00nul"},
		{"an id that is not UTF-8", users[0], "bad\xffutf8"},
		{"an account id that is not UTF-8", "bad\xffutf8", "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdatePasskey(t.Context(), tt.userID, tt.id, func(*domain.Passkey) (ports.Effects, error) {
				t.Error("update called for a passkey that is not the account's")
				return ports.Effects{}, nil
			})
			assertNotFound(t, "UpdatePasskey", err)
			err = s.DeletePasskey(t.Context(), tt.userID, tt.id, func(domain.Passkey) (ports.Effects, error) {
				t.Error("effects asked for a passkey that is not the account's")
				return ports.Effects{}, nil
			})
			assertNotFound(t, "DeletePasskey", err)
		})
	}
	for _, credential := range [][]byte{[]byte("no such credential"), {}, mine.CredentialID[:2]} {
		_, err := s.PasskeyByCredentialID(t.Context(), credential)
		assertNotFound(t, fmt.Sprintf("PasskeyByCredentialID(%x)", credential), err)
	}
	assertEqual(t, "the account's passkeys", passkeysOf(t, s, users[0]), []domain.Passkey{mine})
	assertEqual(t, "the other account's passkeys", passkeysOf(t, s, users[1]), []domain.Passkey{theirs})
}

// assertNotFound fails unless err is domain.ErrPasskeyNotFound as it is, so
// that another account's passkey cannot be told from a missing one.
func assertNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, domain.ErrPasskeyNotFound) || err.Error() != domain.ErrPasskeyNotFound.Error() {
		t.Errorf("%s = %v, want %v", what, err, domain.ErrPasskeyNotFound)
	}
}

func testPasskeyDelete(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	gone, kept := fullPasskey("gone", users[0], baseTime()), fullPasskey("kept", users[0], baseTime().Add(time.Second))
	addPasskeys(t, s, gone, kept)

	refused := errors.New("refused")
	err := s.DeletePasskey(t.Context(), users[0], "gone", func(p domain.Passkey) (ports.Effects, error) {
		assertEqual(t, "the passkey DeletePasskey passed to its effects", p, gone)
		return passkeyEffects("refused", domain.EventPasskeyRemoved, users[0], baseTime()), refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("DeletePasskey = %v, want the effects' error", err)
	}
	assertEqual(t, "the passkeys after a refused deletion", passkeysOf(t, s, users[0]), []domain.Passkey{gone, kept})
	assertNothingSaved(t, s)

	if err := s.DeletePasskey(t.Context(), users[0], "gone", func(domain.Passkey) (ports.Effects, error) { return ports.Effects{}, nil }); err != nil {
		t.Fatalf("DeletePasskey: %v", err)
	}
	assertEqual(t, "the passkeys after the deletion", passkeysOf(t, s, users[0]), []domain.Passkey{kept})
	_, err = s.PasskeyByCredentialID(t.Context(), gone.CredentialID)
	assertNotFound(t, "PasskeyByCredentialID of the deleted passkey", err)
	err = s.DeletePasskey(t.Context(), users[0], "gone", func(domain.Passkey) (ports.Effects, error) { return ports.Effects{}, nil })
	assertNotFound(t, "a second DeletePasskey", err)

	// The credential is free again, for any account.
	again := fullPasskey("again", users[1], baseTime())
	again.CredentialID = gone.CredentialID
	if err := s.AddPasskey(t.Context(), again, ports.Effects{}); err != nil {
		t.Errorf("AddPasskey of a deleted passkey's credential: %v", err)
	}
}

// testPasskeyBound adds more passkeys to one account than it may have, all
// at once, as replicas serving several requests of one user may: exactly
// domain.MaxPasskeys are kept, each with its effects, and the others are
// refused without theirs.
func testPasskeyBound(t *testing.T, newStore NewStore) {
	const workers = domain.MaxPasskeys + 10
	s, users := storeWithUsers(t, newStore, 2)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("p%02d", i)
			errs[i] = s.AddPasskey(t.Context(), newPasskey(id, users[0], baseTime()), passkeyEffects(id, domain.EventPasskeyAdded, users[0], baseTime()))
		})
	}
	wg.Wait()
	added := 0
	for i, err := range errs {
		switch {
		case err == nil:
			added++
		case !errors.Is(err, domain.ErrTooManyPasskeys):
			t.Errorf("AddPasskey #%d = %v, want nil or %v", i, err, domain.ErrTooManyPasskeys)
		}
	}
	if added != domain.MaxPasskeys {
		t.Errorf("%d of %d concurrent additions succeeded, want %d", added, workers, domain.MaxPasskeys)
	}
	if n := len(passkeysOf(t, s, users[0])); n != domain.MaxPasskeys {
		t.Errorf("the account has %d passkeys, want %d", n, domain.MaxPasskeys)
	}
	if n := len(dueIDs(t, s, baseTime().Add(time.Hour))); n != domain.MaxPasskeys {
		t.Errorf("%d messages queued, want one per passkey added (%d)", n, domain.MaxPasskeys)
	}
	if n := len(auditOf(t, s, ports.AuditQuery{})); n != domain.MaxPasskeys {
		t.Errorf("%d events recorded, want one per passkey added (%d)", n, domain.MaxPasskeys)
	}
	// The bound is each account's own.
	if err := s.AddPasskey(t.Context(), newPasskey("others", users[1], baseTime()), ports.Effects{}); err != nil {
		t.Errorf("AddPasskey to another account: %v", err)
	}
}

// testPasskeyCredentialRace registers one credential for several accounts
// at once: one keeps it.
func testPasskeyCredentialRace(t *testing.T, newStore NewStore) {
	const workers = 6
	s, users := storeWithUsers(t, newStore, workers)
	credential := []byte("one credential")
	passkeys := make([]domain.Passkey, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		passkeys[i] = newPasskey(fmt.Sprintf("p%d", i), users[i], baseTime())
		passkeys[i].CredentialID = credential
		wg.Go(func() {
			errs[i] = s.AddPasskey(t.Context(), clone(passkeys[i]), passkeyEffects(passkeys[i].ID, domain.EventPasskeyAdded, users[i], baseTime()))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("AddPasskey #%d and #%d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, domain.ErrPasskeyExists):
			t.Errorf("AddPasskey #%d = %v, want nil or %v", i, err, domain.ErrPasskeyExists)
		}
	}
	if winner < 0 {
		t.Fatal("no AddPasskey succeeded")
	}
	got, err := s.PasskeyByCredentialID(t.Context(), credential)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the credential's passkey", got, passkeys[winner])
	assertEqual(t, "the mail queued", dueIDs(t, s, baseTime().Add(time.Hour)), []string{passkeys[winner].ID})
}

// testPasskeySignCountRace uses one passkey from many goroutines at once,
// each with its own sign count, refusing a count not above the stored one
// as the use case does: each update sees the newest count, so the counts
// updates see never go down and the highest one is kept.
func testPasskeySignCountRace(t *testing.T, newStore NewStore) {
	const workers = 16
	s, users := storeWithUsers(t, newStore, 1)
	addPasskeys(t, s, newPasskey("p", users[0], baseTime()))
	var (
		mu   sync.Mutex
		seen []uint32
		wg   sync.WaitGroup
	)
	errs := make([]error, workers)
	const signedMax = math.MaxInt32
	for i := range workers {
		// Distinct counts past the signed range, in no order: 7 and
		// workers have no common factor.
		step := uint32(i*7%workers) + 1
		count := signedMax + step
		wg.Go(func() {
			var got domain.Passkey
			got, errs[i] = s.UpdatePasskey(t.Context(), users[0], "p", func(p *domain.Passkey) (ports.Effects, error) {
				mu.Lock()
				seen = append(seen, p.SignCount)
				mu.Unlock()
				if count <= p.SignCount {
					return ports.Effects{}, ports.ErrPasskeyCloned
				}
				p.Use(count, false, baseTime().Add(time.Duration(step)*time.Second))
				return ports.Effects{}, nil
			})
			if errs[i] == nil && got.SignCount != count {
				t.Errorf("UpdatePasskey returned sign count %d, want %d", got.SignCount, count)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, ports.ErrPasskeyCloned) {
			t.Errorf("UpdatePasskey #%d = %v", i, err)
		}
	}
	if !slices.IsSorted(seen) {
		t.Errorf("the sign counts updates saw went down: %v", seen)
	}
	got := passkeysOf(t, s, users[0])[0]
	if want := uint32(signedMax + workers); got.SignCount != want {
		t.Errorf("sign count = %d after concurrent uses, want the highest, %d", got.SignCount, want)
	}
}

func testPasskeysDeletedWithUser(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	gone := []domain.Passkey{fullPasskey("gone-1", users[0], baseTime()), fullPasskey("gone-2", users[0], baseTime().Add(time.Second))}
	kept := fullPasskey("kept", users[1], baseTime())
	addPasskeys(t, s, append(gone, kept)...)
	if err := s.DeleteUser(t.Context(), users[0], ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	if got := passkeysOf(t, s, users[0]); len(got) != 0 {
		t.Errorf("the deleted account's passkeys: %+v", got)
	}
	for _, p := range gone {
		_, err := s.PasskeyByCredentialID(t.Context(), p.CredentialID)
		assertNotFound(t, "PasskeyByCredentialID of a deleted account's passkey", err)
	}
	assertEqual(t, "the other account's passkeys", passkeysOf(t, s, users[1]), []domain.Passkey{kept})
	// The rows are gone, not hidden: their credentials register again.
	again := newPasskey("again", users[1], baseTime())
	again.CredentialID = gone[0].CredentialID
	if err := s.AddPasskey(t.Context(), again, ports.Effects{}); err != nil {
		t.Errorf("AddPasskey of a deleted account's credential: %v", err)
	}
}
