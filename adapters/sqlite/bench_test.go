package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// The queries behind each request, on a real database file with the
// service's settings (WAL, synchronous=FULL): reads go through the reader
// pool, writes through the single writer and an fsync per commit, so the
// write benchmarks measure the disk as much as the code.

// benchUsers is how many accounts the read benchmarks spread over.
const benchUsers = 100

// benchPasswordHash has the length of a real argon2id PHC string.
const benchPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// benchTime is the fixed "now" of the benchmarks.
func benchTime() time.Time { return time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC) }

// benchStore opens and migrates a database in a temporary directory.
func benchStore(b *testing.B) *Store {
	b.Helper()
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "auth.db"), nil)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	return testStore(b, db)
}

// benchUser returns a new inactive account for email, as signup builds it.
func benchUser(b *testing.B, email string) domain.User {
	b.Helper()
	reg, err := domain.NewRegistration(email, "correct horse battery staple", "Ada", "Lovelace")
	if err != nil {
		b.Fatalf("NewRegistration: %v", err)
	}
	id, err := domain.NewID(benchTime(), rand.Reader)
	if err != nil {
		b.Fatalf("NewID: %v", err)
	}
	return domain.NewUser(id, reg, benchPasswordHash, testCodeKey, domain.CodeSecrets{Code: "123456", Link: "link-token"}, benchTime(), time.Hour)
}

// benchMail is the activation email signup queues with the account.
func benchMail(u domain.User) ports.OutgoingMail {
	return ports.OutgoingMail{
		Message: ports.Message{
			ID: u.ID, To: u.Email, Subject: "Activate your account",
			Text: "Your activation code is 123456. It expires in 1 hour.",
			HTML: "<p>Your activation code is <strong>123456</strong>.</p>",
		},
		Slot:      "activation:" + u.ID,
		ExpiresAt: benchTime().Add(time.Hour),
		QueuedAt:  benchTime(),
	}
}

// seedUsers stores n accounts and returns them.
func seedUsers(b *testing.B, s *Store, n int) []domain.User {
	b.Helper()
	users := make([]domain.User, n)
	for i := range users {
		users[i] = benchUser(b, fmt.Sprintf("user%03d@example.com", i))
		if err := s.CreateUser(b.Context(), users[i], ports.Effects{Mail: []ports.OutgoingMail{benchMail(users[i])}}); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
	}
	return users
}

// BenchmarkUserByEmail is the read of every login.
func BenchmarkUserByEmail(b *testing.B) {
	benchmarkRead(b, func(ctx context.Context, s *Store, u domain.User) error {
		_, err := s.UserByEmail(ctx, u.Email)
		return err
	})
}

// BenchmarkUserByID is the read of every GET /me and refresh.
func BenchmarkUserByID(b *testing.B) {
	benchmarkRead(b, func(ctx context.Context, s *Store, u domain.User) error {
		_, err := s.UserByID(ctx, u.ID)
		return err
	})
}

// benchmarkRead runs read on the seeded accounts in turn. b.Context can be
// cancelled, like a request's context, which costs the SQLite driver work
// that context.Background does not.
func benchmarkRead(b *testing.B, read func(ctx context.Context, s *Store, u domain.User) error) {
	s := benchStore(b)
	users := seedUsers(b, s, benchUsers)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := read(b.Context(), s, users[i%len(users)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUserByIDParallel reads from several goroutines at once, as
// concurrent GET /me requests do, through the reader pool.
func BenchmarkUserByIDParallel(b *testing.B) {
	s := benchStore(b)
	users := seedUsers(b, s, benchUsers)
	ctx := b.Context()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.UserByID(ctx, users[i%len(users)].ID); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkCreateUser is signup's write: the account and its activation
// email in one transaction.
func BenchmarkCreateUser(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	users := make([]domain.User, b.N)
	for i := range users {
		users[i] = benchUser(b, fmt.Sprintf("new%07d@example.com", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.CreateUser(ctx, users[i], ports.Effects{Mail: []ports.OutgoingMail{benchMail(users[i])}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateUser is a read-modify-write of one account in a write
// transaction, as activation and rehashing at login do.
func BenchmarkUpdateUser(b *testing.B) {
	s := benchStore(b)
	users := seedUsers(b, s, benchUsers)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, err := s.UpdateUser(ctx, ports.UserEmail(users[i%len(users)].Email), func(u *domain.User) (ports.Effects, error) {
			u.SetPasswordHash(benchPasswordHash, benchTime().Add(time.Duration(i)*time.Millisecond))
			return ports.Effects{}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCreateSession is login's write.
func BenchmarkCreateSession(b *testing.B) {
	s := benchStore(b)
	users := seedUsers(b, s, benchUsers)
	ctx := b.Context()
	client := domain.Client{IP: "127.0.0.1", UserAgent: "bench/1.0"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id, err := domain.NewID(benchTime(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		sess := domain.NewSession(id, users[i%len(users)].ID, "jti-"+id, client, benchTime(), 720*time.Hour)
		if err := s.CreateSession(ctx, sess); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUpdateSession is refresh's write: the session's last use.
func BenchmarkUpdateSession(b *testing.B) {
	s := benchStore(b)
	users := seedUsers(b, s, 1)
	ctx := b.Context()
	sess := domain.NewSession("0194694c-5dc0-7c3d-9a4f-2e5b6c7d8ea0", users[0].ID, "jti-1",
		domain.Client{IP: "127.0.0.1", UserAgent: "bench/1.0"}, benchTime(), 720*time.Hour)
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at := benchTime().Add(time.Duration(i) * time.Millisecond)
		_, err := s.UpdateSession(ctx, sess.ID, func(s *domain.Session) ([]domain.AuditEvent, error) {
			if use := s.UseRefreshToken("jti-1", at, 0); use != domain.RefreshCurrent {
				return nil, fmt.Errorf("refresh token use = %v, want current", use)
			}
			return nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}
