package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.LoginThrottle = (*Throttle)(nil)

// Throttle is the ports.LoginThrottle on a DB: the runs of failed logins live
// in the login_failures table, beside the accounts, so that a lock outlives a
// restart and a password reset lifts it in the same transaction.
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
// its run; the two kinds of input are hashed apart.
func loginKey(kind, value string) []byte {
	sum := sha256.Sum256([]byte("authapi login " + kind + "\x00" + value))
	return sum[:16]
}

// Admit reads both runs, applies the policy and saves the runs that count
// the attempt, in one write transaction.
func (t *Throttle) Admit(ctx context.Context, policy domain.LoginPolicy, email domain.Email, source string, now time.Time) (ports.LoginAttempt, error) {
	account, src := loginKey("account", string(email)), loginKey("source", source)
	var (
		adm      domain.Admission
		admitErr error
	)
	err := t.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		pair, err := loginRun(ctx, q, account, src)
		if err != nil {
			return err
		}
		whole, err := loginRun(ctx, q, account, accountRow)
		if err != nil {
			return err
		}
		adm, admitErr = policy.Admit(domain.SourceRun{Failures: pair.Failures, Last: pair.Last}, whole, now)
		if admitErr != nil {
			return nil
		}
		err = q.SaveLoginRun(ctx, sqlcgen.SaveLoginRunParams{
			Account: account, Source: src, Failures: int64(adm.Source.Failures), LastFailure: adm.Source.Last.UnixMilli(),
		})
		if err != nil {
			return err
		}
		return q.SaveLoginRun(ctx, sqlcgen.SaveLoginRunParams{
			Account: account, Source: accountRow,
			Failures: int64(adm.Account.Failures), LastFailure: adm.Account.Last.UnixMilli(),
			Locks: int64(adm.Account.Locks), LockedUntil: nullFromTime(adm.Account.LockedUntil),
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

// loginRun reads one run; a missing row is an empty run.
func loginRun(ctx context.Context, q *sqlcgen.Queries, account, source []byte) (domain.AccountRun, error) {
	row, err := q.GetLoginRun(ctx, sqlcgen.GetLoginRunParams{Account: account, Source: source})
	if errors.Is(err, sql.ErrNoRows) {
		return domain.AccountRun{}, nil
	}
	if err != nil {
		return domain.AccountRun{}, err
	}
	return domain.AccountRun{
		Failures:    int(row.Failures),
		Locks:       int(row.Locks),
		Last:        timeFromMillis(row.LastFailure),
		LockedUntil: timeFromNull(row.LockedUntil),
	}, nil
}

// Succeeded ends the runs of the attempt's account and source.
func (t *Throttle) Succeeded(ctx context.Context, attempt ports.LoginAttempt) error {
	account := loginKey("account", string(attempt.Email))
	err := t.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		if err := q.DeleteLoginRun(ctx, sqlcgen.DeleteLoginRunParams{Account: account, Source: loginKey("source", attempt.Source)}); err != nil {
			return err
		}
		return q.DeleteLoginRun(ctx, sqlcgen.DeleteLoginRunParams{Account: account, Source: accountRow})
	})
	return translate(ctx, "record login", err)
}

// LockedUntil returns when the lock of email's account ends, or the zero
// time when none is in force at now.
func (t *Throttle) LockedUntil(ctx context.Context, email domain.Email, now time.Time) (time.Time, error) {
	run, err := loginRun(ctx, sqlcgen.New(t.db.reader), loginKey("account", string(email)), accountRow)
	if err != nil {
		return time.Time{}, translate(ctx, "read login lock", err)
	}
	if !run.LockedUntil.After(now) {
		return time.Time{}, nil
	}
	return run.LockedUntil, nil
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
	n, err := sqlcgen.New(t.db.writer).PruneLoginFailures(ctx, sqlcgen.PruneLoginFailuresParams{
		SourceBefore:  now.Add(-domain.SourceMemory).UnixMilli(),
		AccountBefore: now.Add(-domain.CampaignMemory).UnixMilli(),
		Now:           now.UnixMilli(),
	})
	if err != nil {
		return 0, translate(ctx, "prune login failures", err)
	}
	return int(n), nil
}
