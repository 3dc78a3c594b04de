package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to plant faults as any tool could
	_ "modernc.org/sqlite"             // the "sqlite" driver, likewise

	"authapi/domain"
)

// Each use case that changes more than one thing saves it all in one
// transaction. These tests make the database refuse the second step of each,
// with a trigger on the real database, and check that the first step was not
// kept either: nothing is half done.

// failOn plants a trigger that aborts any statement of kind ("INSERT",
// "UPDATE" or "DELETE") on table, until the returned function removes it.
func (f *fixture) failOn(t *testing.T, kind, table string) (lift func()) {
	t.Helper()
	db, err := sql.Open(f.db.driver, f.db.source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	name := fmt.Sprintf("fail_%s_%s", strings.ToLower(kind), table)
	plant := []string{fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s BEGIN SELECT RAISE(ABORT, 'injected fault'); END", name, kind, table)}
	remove := []string{"DROP TRIGGER " + name}
	if f.db.driver == "pgx" {
		plant = []string{
			`CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`,
			fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW EXECUTE FUNCTION injected_fault()", name, kind, table),
		}
		remove = []string{fmt.Sprintf("DROP TRIGGER %s ON %s", name, table)}
	}
	for _, stmt := range plant {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, stmt := range remove {
			if _, err := db.ExecContext(context.Background(), stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// wantFailure fails unless err is an internal failure, as a refused write
// is, rather than success or a domain answer.
func wantFailure(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || domain.ErrorCode(err) != domain.CodeInternal {
		t.Fatalf("%s with its second step refused = %v, want an internal failure", what, err)
	}
}

func TestSignupIsOneWrite(t *testing.T) {
	f := newFixture(t)
	lift := f.failOn(t, "INSERT", "outbox")
	_, err := f.svc.Signup(context.Background(), astro, laptop)
	wantFailure(t, "signup", err)
	if _, err := f.users.UserByEmail(context.Background(), "astro.user@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("the account was kept without its activation email: %v", err)
	}
	lift()
	f.signup(t) // and the address is free
}

func TestResetPasswordIsOneWrite(t *testing.T) {
	for _, step := range []struct{ kind, table string }{
		{"UPDATE", "sessions"},       // ending the sessions
		{"INSERT", "outbox"},         // the notice
		{"UPDATE", "login_failures"}, // lifting the lock
	} {
		t.Run(step.kind+" "+step.table, func(t *testing.T) {
			f := newFixture(t)
			f.svc.cfg.ForgotPasswordMinDuration = 0
			f.activeUser(t)
			ctx := context.Background()
			pair := f.login(t)
			_, _ = f.svc.Login(ctx, astro.Email, "wrong-password", laptop) // a run of failures to lift
			if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
				t.Fatal(err)
			}
			code := f.lastResetCode(t)
			mailBefore := len(f.queued(t))

			lift := f.failOn(t, step.kind, step.table)
			wantFailure(t, "reset", f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AnotherStrongPass!42", laptop))
			lift()

			if _, err := f.svc.Refresh(ctx, pair.Refresh.Token, laptop); err != nil {
				t.Errorf("the sessions ended although the reset failed: %v", err)
			}
			if got := len(f.queued(t)); got != mailBefore {
				t.Errorf("%d emails queued by the failed reset", got-mailBefore)
			}
			if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); err != nil {
				t.Errorf("the old password stopped working although the reset failed: %v", err)
			}
			// The code was not spent: the reset works once the fault is gone.
			if err := f.svc.ResetPassword(ctx, astro.Email, domain.CodeProof(code), "AnotherStrongPass!42", laptop); err != nil {
				t.Errorf("the reset after the fault = %v", err)
			}
		})
	}
}

func TestChangePasswordIsOneWrite(t *testing.T) {
	for _, step := range []struct{ kind, table string }{
		{"UPDATE", "sessions"},
		{"INSERT", "outbox"},
	} {
		t.Run(step.kind+" "+step.table, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			ctx := context.Background()
			mine, other := f.login(t), f.login(t)
			claims, err := f.tokens.Verify(mine.Access.Token, domain.AccessToken, start)
			if err != nil {
				t.Fatal(err)
			}
			mailBefore := len(f.queued(t))

			lift := f.failOn(t, step.kind, step.table)
			wantFailure(t, "change", f.svc.ChangePassword(ctx, claims, astro.Password, "AnotherStrongPass!42", false, "", laptop))
			lift()

			if _, err := f.svc.Refresh(ctx, other.Refresh.Token, laptop); err != nil {
				t.Errorf("another session ended although the change failed: %v", err)
			}
			if got := len(f.queued(t)); got != mailBefore {
				t.Errorf("%d emails queued by the failed change", got-mailBefore)
			}
			if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); err != nil {
				t.Errorf("the old password stopped working although the change failed: %v", err)
			}
		})
	}
}

func TestDeleteAccountIsOneWrite(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	pair := f.login(t)
	id := f.userID(t)
	lift := f.failOn(t, "INSERT", "outbox")
	wantFailure(t, "deletion", f.svc.DeleteAccount(ctx, domain.Claims{UserID: id}, astro.Password, "", laptop))
	lift()
	if _, err := f.svc.CurrentUser(ctx, id); err != nil {
		t.Errorf("the account is gone although its deletion failed: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, pair.Refresh.Token, laptop); err != nil {
		t.Errorf("the session ended although the deletion failed: %v", err)
	}
}

func TestUnlockIsOneWrite(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	ctx := context.Background()
	for i := range f.svc.cfg.Limits.Login.LockAfter {
		_, _ = f.svc.Login(ctx, astro.Email, "wrong-password", from(fmt.Sprintf("203.0.113.%d", i)))
	}
	token := tokenInLink(t, f.lastMail(t).Text, "unlock")
	lift := f.failOn(t, "UPDATE", "login_failures")
	wantFailure(t, "unlock", f.svc.Unlock(ctx, astro.Email, token, laptop))
	lift()
	if _, err := f.svc.Login(ctx, astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountLocked) {
		t.Errorf("login after the failed unlock = %v, want still locked", err)
	}
	// The link was not spent.
	if err := f.svc.Unlock(ctx, astro.Email, token, laptop); err != nil {
		t.Errorf("the unlock after the fault = %v", err)
	}
}
