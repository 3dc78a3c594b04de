package sqlite

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
	"authapi/ports/porttest"
)

// The contract suites are the judge of every store, so they must catch a
// store that forgets a field or shares memory with its callers. These tests
// wrap the real store in ones that are broken in exactly one way, one per
// field and per kind of breakage, and show that the suite fails against
// each. A suite that fails marks its test failed, so the broken suites run
// in a child process of this test binary, whose verdicts are read from its
// output.

// brokenEnv makes TestBrokenStoreSuites run the broken suites.
const brokenEnv = "AUTHAPI_RUN_BROKEN_STORES"

// brokenStore is a way of breaking the store and the suite that must notice.
type brokenStore struct {
	name  string
	suite func(*testing.T, porttest.NewStore)
	wrap  func(contractStore) porttest.Store
}

// brokenStores lists one broken store per field of every stored value and
// per way of breaking it.
func brokenStores() []brokenStore {
	var stores []brokenStore
	for _, path := range leafFields(reflect.TypeOf(domain.User{}), nil) {
		stores = append(stores, brokenStore{
			name:  "users forget " + fieldName(reflect.TypeOf(domain.User{}), path),
			suite: porttest.TestUserStore,
			wrap:  func(s contractStore) porttest.Store { return &forgetfulUsers{contractStore: s, path: path} },
		})
	}
	for _, path := range sliceFields(reflect.TypeOf(domain.User{}), nil) {
		stores = append(stores, brokenStore{
			name:  "users share " + fieldName(reflect.TypeOf(domain.User{}), path),
			suite: porttest.TestUserStore,
			wrap:  func(s contractStore) porttest.Store { return &sharingUsers{contractStore: s, path: path} },
		})
	}
	for _, path := range leafFields(reflect.TypeOf(domain.Session{}), nil) {
		stores = append(stores, brokenStore{
			name:  "sessions forget " + fieldName(reflect.TypeOf(domain.Session{}), path),
			suite: porttest.TestSessionStore,
			wrap:  func(s contractStore) porttest.Store { return &forgetfulSessions{contractStore: s, path: path} },
		})
	}
	for _, path := range leafFields(reflect.TypeOf(domain.Session{}), nil) {
		stores = append(stores, brokenStore{
			name:  "session with user forgets the session's " + fieldName(reflect.TypeOf(domain.Session{}), path),
			suite: porttest.TestSessionStore,
			wrap: func(s contractStore) porttest.Store {
				return &forgetfulSessionWithUser{contractStore: s, sessionPath: path}
			},
		})
	}
	for _, path := range leafFields(reflect.TypeOf(domain.User{}), nil) {
		stores = append(stores, brokenStore{
			name:  "session with user forgets the account's " + fieldName(reflect.TypeOf(domain.User{}), path),
			suite: porttest.TestSessionStore,
			wrap: func(s contractStore) porttest.Store {
				return &forgetfulSessionWithUser{contractStore: s, userPath: path}
			},
		})
	}
	for _, path := range leafFields(reflect.TypeOf(ports.QueuedMail{}), nil) {
		stores = append(stores, brokenStore{
			name:  "outbox forgets " + fieldName(reflect.TypeOf(ports.QueuedMail{}), path),
			suite: porttest.TestOutbox,
			wrap:  func(s contractStore) porttest.Store { return &forgetfulOutbox{contractStore: s, path: path} },
		})
	}
	for _, path := range leafFields(reflect.TypeOf(domain.Passkey{}), nil) {
		stores = append(stores, brokenStore{
			name:  "passkeys forget " + fieldName(reflect.TypeOf(domain.Passkey{}), path),
			suite: porttest.TestPasskeyStore,
			wrap:  func(s contractStore) porttest.Store { return &forgetfulPasskeys{contractStore: s, path: path} },
		})
	}
	for _, path := range sliceFields(reflect.TypeOf(domain.Passkey{}), nil) {
		stores = append(stores, brokenStore{
			name:  "passkeys share " + fieldName(reflect.TypeOf(domain.Passkey{}), path),
			suite: porttest.TestPasskeyStore,
			wrap:  func(s contractStore) porttest.Store { return &sharingPasskeys{contractStore: s, path: path} },
		})
	}
	stores = append(stores,
		brokenStore{
			name:  "passkeys without a bound under concurrency",
			suite: porttest.TestPasskeyStore,
			wrap:  func(s contractStore) porttest.Store { return &racyPasskeys{contractStore: s} },
		},
		brokenStore{
			name:  "outbox claims without a lease",
			suite: porttest.TestOutbox,
			wrap:  func(s contractStore) porttest.Store { return &leaselessOutbox{contractStore: s} },
		},
		brokenStore{
			name:  "throttle forgets failures",
			suite: porttest.TestLoginThrottle,
			wrap:  func(s contractStore) porttest.Store { return &forgetfulThrottle{contractStore: s} },
		},
		brokenStore{
			name:  "throttle never lifts a lock",
			suite: porttest.TestLoginThrottle,
			wrap:  func(s contractStore) porttest.Store { return &stubbornThrottle{contractStore: s} },
		},
	)
	return stores
}

// TestContractSuitesCatchBrokenStores runs every broken store's suite in a
// child process and requires each to fail.
func TestContractSuitesCatchBrokenStores(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("this is the child process")
	}
	if testing.Short() {
		t.Skip("runs the suites once per broken store")
	}
	// The concurrent-reads case is about reads shared between callers, not
	// about fields, which the other cases check; it would add its own
	// accounts and sessions to every broken store's run.
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenStoreSuites$",
		"-test.skip=^TestBrokenStoreSuites/.*/concurrent_reads_each_get_their_own$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("every broken store passed its suite:\n%s", out)
	}
	verdicts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^    --- (PASS|FAIL): TestBrokenStoreSuites/(\S+)`).FindAllSubmatch(out, -1) {
		verdicts[string(m[2])] = string(m[1])
	}
	for _, b := range brokenStores() {
		name := subtestName(b.name)
		switch verdicts[name] {
		case "FAIL":
		case "PASS":
			t.Errorf("the suite passed a store whose %s", b.name)
		default:
			t.Errorf("no verdict for %q in the child's output", name)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", tail(out, 4000))
	}
}

// TestBrokenStoreSuites is the child process's work: each subtest runs a
// suite against a broken store, and should fail.
func TestBrokenStoreSuites(t *testing.T) {
	if os.Getenv(brokenEnv) == "" {
		t.Skip("runs only as the child of TestContractSuitesCatchBrokenStores")
	}
	for _, b := range brokenStores() {
		t.Run(b.name, func(t *testing.T) {
			// Each store works on databases of its own; side by side, the
			// hundred-odd suites finish well within the test timeout.
			t.Parallel()
			b.suite(t, func(t *testing.T) porttest.Store {
				return b.wrap(newContractStore(t).(contractStore))
			})
		})
	}
}

// subtestName is the name go test gives a subtest named name.
func subtestName(name string) string {
	return regexp.MustCompile(`\s`).ReplaceAllString(name, "_")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// leafFields lists the paths to the leaf fields of struct type t: times and
// non-struct fields are leaves, other structs are walked into.
func leafFields(t reflect.Type, prefix []int) [][]int {
	var paths [][]int
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		path := append(append([]int(nil), prefix...), i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			paths = append(paths, leafFields(f.Type, path)...)
			continue
		}
		paths = append(paths, path)
	}
	return paths
}

// sliceFields lists the paths to the slice fields among the leaves.
func sliceFields(t reflect.Type, prefix []int) [][]int {
	var paths [][]int
	for _, p := range leafFields(t, prefix) {
		if t.FieldByIndex(p).Type.Kind() == reflect.Slice {
			paths = append(paths, p)
		}
	}
	return paths
}

// fieldName is the dotted name of the field at path of struct type t.
func fieldName(t reflect.Type, path []int) string {
	var names []string
	for _, i := range path {
		f := t.Field(i)
		names = append(names, f.Name)
		t = f.Type
	}
	return strings.Join(names, ".")
}

// forget zeroes the field at path of the struct v points to.
func forget(v any, path []int) {
	reflect.ValueOf(v).Elem().FieldByIndex(path).SetZero()
}

// forgetfulUsers forgets one field of every account it hands out.
type forgetfulUsers struct {
	contractStore
	path []int
}

func (s *forgetfulUsers) UserByEmail(ctx context.Context, e domain.Email) (domain.User, error) {
	u, err := s.contractStore.UserByEmail(ctx, e)
	forget(&u, s.path)
	return u, err
}

func (s *forgetfulUsers) UserByID(ctx context.Context, id string) (domain.User, error) {
	u, err := s.contractStore.UserByID(ctx, id)
	forget(&u, s.path)
	return u, err
}

func (s *forgetfulUsers) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	u, err := s.contractStore.UpdateUser(ctx, key, func(u *domain.User) (ports.Effects, error) {
		forget(u, s.path)
		return update(u)
	})
	forget(&u, s.path)
	return u, err
}

// sharingUsers remembers each account it is given or saves, as a cache
// would, and hands out the remembered slice at path: memory it shares with
// whoever gave it the account, as a store that forgot to copy would.
type sharingUsers struct {
	contractStore
	path  []int
	given map[string]domain.User
}

func (s *sharingUsers) remember(u domain.User) {
	if s.given == nil {
		s.given = map[string]domain.User{}
	}
	s.given[u.ID] = u
}

func (s *sharingUsers) CreateUser(ctx context.Context, u domain.User, fx ports.Effects) error {
	err := s.contractStore.CreateUser(ctx, u, fx)
	if err == nil {
		s.remember(u)
	}
	return err
}

func (s *sharingUsers) share(u domain.User) domain.User {
	if given, ok := s.given[u.ID]; ok {
		reflect.ValueOf(&u).Elem().FieldByIndex(s.path).Set(reflect.ValueOf(given).FieldByIndex(s.path))
	}
	return u
}

func (s *sharingUsers) UserByEmail(ctx context.Context, e domain.Email) (domain.User, error) {
	u, err := s.contractStore.UserByEmail(ctx, e)
	return s.share(u), err
}

func (s *sharingUsers) UserByID(ctx context.Context, id string) (domain.User, error) {
	u, err := s.contractStore.UserByID(ctx, id)
	return s.share(u), err
}

func (s *sharingUsers) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	u, err := s.contractStore.UpdateUser(ctx, key, update)
	if err == nil {
		s.remember(u)
	}
	return s.share(u), err
}

// forgetfulSessions forgets one field of every session it hands out.
type forgetfulSessions struct {
	contractStore
	path []int
}

func (s *forgetfulSessions) Session(ctx context.Context, id string) (domain.Session, error) {
	sess, err := s.contractStore.Session(ctx, id)
	forget(&sess, s.path)
	return sess, err
}

func (s *forgetfulSessions) SessionsOfUser(ctx context.Context, userID string, now time.Time) ([]domain.Session, error) {
	sessions, err := s.contractStore.SessionsOfUser(ctx, userID, now)
	for i := range sessions {
		forget(&sessions[i], s.path)
	}
	return sessions, err
}

func (s *forgetfulSessions) UpdateSession(ctx context.Context, id string, update func(*domain.Session) ([]domain.AuditEvent, error)) (domain.Session, error) {
	sess, err := s.contractStore.UpdateSession(ctx, id, func(sess *domain.Session) ([]domain.AuditEvent, error) {
		forget(sess, s.path)
		return update(sess)
	})
	forget(&sess, s.path)
	return sess, err
}

// forgetfulPasskeys forgets one field of every passkey it hands out.
type forgetfulPasskeys struct {
	contractStore
	path []int
}

func (s *forgetfulPasskeys) Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error) {
	passkeys, err := s.contractStore.Passkeys(ctx, userID)
	for i := range passkeys {
		forget(&passkeys[i], s.path)
	}
	return passkeys, err
}

func (s *forgetfulPasskeys) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error) {
	p, err := s.contractStore.PasskeyByCredentialID(ctx, credentialID)
	forget(&p, s.path)
	return p, err
}

func (s *forgetfulPasskeys) UpdatePasskey(ctx context.Context, userID, id string, update func(*domain.Passkey) (ports.Effects, error)) (domain.Passkey, error) {
	p, err := s.contractStore.UpdatePasskey(ctx, userID, id, func(p *domain.Passkey) (ports.Effects, error) {
		forget(p, s.path)
		return update(p)
	})
	forget(&p, s.path)
	return p, err
}

// sharingPasskeys remembers each passkey it is given, as a cache would, and
// hands out the remembered slice at path: memory it shares with whoever
// gave it the passkey, as a store that forgot to copy would.
type sharingPasskeys struct {
	contractStore
	path  []int
	given map[string]domain.Passkey
}

func (s *sharingPasskeys) AddPasskey(ctx context.Context, p domain.Passkey, fx ports.Effects) error {
	err := s.contractStore.AddPasskey(ctx, p, fx)
	if err == nil {
		if s.given == nil {
			s.given = map[string]domain.Passkey{}
		}
		s.given[p.ID] = p
	}
	return err
}

func (s *sharingPasskeys) share(p domain.Passkey) domain.Passkey {
	if given, ok := s.given[p.ID]; ok {
		reflect.ValueOf(&p).Elem().FieldByIndex(s.path).Set(reflect.ValueOf(given).FieldByIndex(s.path))
	}
	return p
}

func (s *sharingPasskeys) Passkeys(ctx context.Context, userID string) ([]domain.Passkey, error) {
	passkeys, err := s.contractStore.Passkeys(ctx, userID)
	for i := range passkeys {
		passkeys[i] = s.share(passkeys[i])
	}
	return passkeys, err
}

// racyPasskeys checks a new passkey against the account's others before
// the transaction that adds it, so that concurrent additions all pass the
// checks and break the bound.
type racyPasskeys struct{ contractStore }

func (s *racyPasskeys) AddPasskey(ctx context.Context, p domain.Passkey, fx ports.Effects) error {
	if _, err := s.PasskeyByCredentialID(ctx, p.CredentialID); err == nil {
		return domain.ErrPasskeyExists
	}
	existing, err := s.Passkeys(ctx, p.UserID)
	if err != nil {
		return err
	}
	if len(existing) >= domain.MaxPasskeys {
		return domain.ErrTooManyPasskeys
	}
	// Let the other additions read the same count before this one writes.
	time.Sleep(10 * time.Millisecond)
	err = s.Store.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		owner, err := q.GetUserByID(ctx, p.UserID)
		if err != nil {
			return err
		}
		if err := q.CreatePasskey(ctx, passkeyParams(p)); err != nil {
			return err
		}
		return applyEffects(ctx, q, userFromRow(owner), fx)
	})
	return translate(ctx, "add passkey", err)
}

// forgetfulSessionWithUser forgets one field of the session or of the
// account that SessionWithUser hands out, and nothing elsewhere.
type forgetfulSessionWithUser struct {
	contractStore
	sessionPath, userPath []int
}

func (s *forgetfulSessionWithUser) SessionWithUser(ctx context.Context, id string) (domain.Session, domain.User, error) {
	sess, user, err := s.contractStore.SessionWithUser(ctx, id)
	if s.sessionPath != nil {
		forget(&sess, s.sessionPath)
	}
	if s.userPath != nil {
		forget(&user, s.userPath)
	}
	return sess, user, err
}

// forgetfulOutbox forgets one field of every message it hands out.
type forgetfulOutbox struct {
	contractStore
	path []int
}

func (s *forgetfulOutbox) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ports.QueuedMail, error) {
	mail, err := s.contractStore.ClaimMail(ctx, now, lease, limit)
	for i := range mail {
		forget(&mail[i], s.path)
	}
	return mail, err
}

// leaselessOutbox hands out messages without holding them: another claim
// gets them too.
type leaselessOutbox struct{ contractStore }

func (s *leaselessOutbox) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ports.QueuedMail, error) {
	return s.contractStore.ClaimMail(ctx, now, 0, limit)
}

// forgetfulThrottle admits every attempt as if it were the first.
type forgetfulThrottle struct{ contractStore }

func (s *forgetfulThrottle) Admit(ctx context.Context, policy domain.LoginPolicy, email domain.Email, source string, now time.Time) (ports.LoginAttempt, error) {
	return ports.LoginAttempt{Email: email, Source: source}, nil
}

// stubbornThrottle ignores the effect that lifts a lock.
type stubbornThrottle struct{ contractStore }

func (s *stubbornThrottle) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	return s.contractStore.UpdateUser(ctx, key, func(u *domain.User) (ports.Effects, error) {
		fx, err := update(u)
		fx.LiftLoginLock = false
		return fx, err
	})
}
