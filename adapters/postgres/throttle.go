package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.LoginThrottle = (*Throttle)(nil)

// Throttle is the ports.LoginThrottle on a DB: the runs of failed logins live
// in the login_failures table, beside the accounts, so that every replica
// counts the same failures, a lock outlives a restart, and a password reset
// lifts it in the same transaction.
type Throttle struct {
	db *DB
}

// NewThrottle returns the login throttle on db.
func NewThrottle(db *DB) *Throttle {
	return &Throttle{db: db}
}

// accountRow is the source of an account's own run: no source at all.
var accountRow = []byte{}

// loginKey digests an email, or a client source, into the fixed-size key of
// its run; the two kinds of input are hashed apart. The SQLite store keys
// its runs the same way.
func loginKey(kind, value string) []byte {
	sum := sha256.Sum256([]byte("authapi login " + kind + "\x00" + value))
	return sum[:16]
}

// Admit locks both runs, applies the policy and saves the runs that count
// the attempt, in one transaction. Attempts on one account from every
// replica queue on the lock of the account's run, so none slips past the
// limits.
func (t *Throttle) Admit(ctx context.Context, policy domain.LoginPolicy, email domain.Email, source string, now time.Time) (ports.LoginAttempt, error) {
	account, src := loginKey("account", string(email)), loginKey("source", source)
	var (
		adm      domain.Admission
		admitErr error
	)
	err := t.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		if err := q.EnsureLoginRuns(ctx, sqlcgen.EnsureLoginRunsParams{Account: account, Source: src, Now: ms(now)}); err != nil {
			return err
		}
		rows, err := q.LockLoginRuns(ctx, sqlcgen.LockLoginRunsParams{Account: account, Source: src})
		if err != nil {
			return err
		}
		var whole, pair domain.AccountRun
		for _, r := range rows {
			if bytes.Equal(r.Source, accountRow) {
				whole = runFromRow(r)
			} else {
				pair = runFromRow(r)
			}
		}
		adm, admitErr = policy.Admit(domain.SourceRun{Failures: pair.Failures, Last: pair.Last}, whole, now)
		if admitErr != nil {
			return nil
		}
		err = q.SaveLoginRun(ctx, sqlcgen.SaveLoginRunParams{
			Account: account, Source: src, Failures: int32(adm.Source.Failures), LastFailure: ms(adm.Source.Last),
		})
		if err != nil {
			return err
		}
		return q.SaveLoginRun(ctx, sqlcgen.SaveLoginRunParams{
			Account: account, Source: accountRow,
			Failures: int32(adm.Account.Failures), LastFailure: ms(adm.Account.Last),
			Locks: int32(adm.Account.Locks), LockedUntil: optTime(adm.Account.LockedUntil),
		})
	})
	if err != nil {
		return ports.LoginAttempt{}, translate(ctx, "admit login", err)
	}
	if admitErr != nil {
		return ports.LoginAttempt{}, admitErr
	}
	return ports.LoginAttempt{Email: email, Source: source, Locks: adm.Locks, LockedUntil: adm.Account.LockedUntil}, nil
}

// runFromRow reads one run. A row that holds nothing yet, as made for the
// lock, is the empty run, as a missing row is.
func runFromRow(r sqlcgen.LockLoginRunsRow) domain.AccountRun {
	if r.Failures == 0 && r.Locks == 0 && r.LockedUntil == nil {
		return domain.AccountRun{}
	}
	return domain.AccountRun{
		Failures:    int(r.Failures),
		Locks:       int(r.Locks),
		Last:        r.LastFailure.UTC(),
		LockedUntil: fromOpt(r.LockedUntil),
	}
}

// Succeeded ends the runs of the attempt's account and source.
func (t *Throttle) Succeeded(ctx context.Context, attempt ports.LoginAttempt) error {
	err := t.db.q.DeleteLoginRuns(ctx, sqlcgen.DeleteLoginRunsParams{
		Account: loginKey("account", string(attempt.Email)),
		Source:  loginKey("source", attempt.Source),
	})
	return translate(ctx, "record login", err)
}

// LockedUntil returns when the lock of email's account ends, or the zero
// time when none is in force at now.
func (t *Throttle) LockedUntil(ctx context.Context, email domain.Email, now time.Time) (time.Time, error) {
	until, err := t.db.q.AccountLockedUntil(ctx, loginKey("account", string(email)))
	if notFound(err) || (err == nil && (until == nil || !until.After(now))) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, translate(ctx, "read login lock", err)
	}
	return until.UTC(), nil
}

// liftLoginLock ends the lock of email's account and the slow-downs of its
// sources, inside the caller's transaction.
func liftLoginLock(ctx context.Context, q *sqlcgen.Queries, email domain.Email) error {
	account := loginKey("account", string(email))
	if err := q.LiftLoginLock(ctx, account); err != nil {
		return err
	}
	return q.ForgetLoginSources(ctx, account)
}

// Prune forgets the runs that no longer count at now and returns how many.
func (t *Throttle) Prune(ctx context.Context, now time.Time) (int, error) {
	n, err := t.db.q.PruneLoginFailures(ctx, sqlcgen.PruneLoginFailuresParams{
		SourceBefore:  ms(now.Add(-domain.SourceMemory)),
		AccountBefore: ms(now.Add(-domain.CampaignMemory)),
		Now:           ms(now),
	})
	if err != nil {
		return 0, translate(ctx, "prune login failures", err)
	}
	return int(n), nil
}
