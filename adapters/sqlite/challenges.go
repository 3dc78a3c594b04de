package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"authapi/db/sqlite/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.ChallengeStore = (*Store)(nil)

// CreateChallenge stores a new challenge.
func (s *Store) CreateChallenge(ctx context.Context, c domain.Challenge) error {
	err := s.writes.CreateChallenge(ctx, sqlcgen.CreateChallengeParams{
		ID:        c.ID,
		Purpose:   string(c.Purpose),
		UserID:    sql.NullString{String: c.UserID, Valid: c.UserID != ""},
		Data:      nonEmpty(c.Data),
		Amr:       strings.Join(c.AMR, " "),
		CreatedAt: c.CreatedAt.UnixMilli(),
		ExpiresAt: c.ExpiresAt.UnixMilli(),
		Failures:  int64(c.Failures),
		UsedAt:    nullFromTime(c.UsedAt),
	})
	return translate(ctx, "create challenge", err)
}

// UpdateChallenge loads, changes and saves a challenge in one transaction.
func (s *Store) UpdateChallenge(ctx context.Context, id string, update func(*domain.Challenge) error) (domain.Challenge, error) {
	var (
		saved     domain.Challenge
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, err := q.GetChallenge(ctx, id)
		if err != nil {
			return err
		}
		c := challengeFromRow(row)
		if updateErr = update(&c); updateErr != nil {
			return updateErr
		}
		_, err = q.UpdateChallenge(ctx, sqlcgen.UpdateChallengeParams{
			ID: id, Failures: int64(c.Failures), UsedAt: nullFromTime(c.UsedAt), Data: nonEmpty(c.Data),
		})
		saved = c
		return err
	})
	switch {
	case updateErr != nil:
		return domain.Challenge{}, updateErr
	case errors.Is(err, sql.ErrNoRows):
		return domain.Challenge{}, domain.ErrChallengeNotFound
	case err != nil:
		return domain.Challenge{}, translate(ctx, "update challenge", err)
	}
	return saved, nil
}

// PruneChallenges deletes the challenges that expired before the time.
func (s *Store) PruneChallenges(ctx context.Context, before time.Time) (int, error) {
	n, err := s.writes.PruneChallenges(ctx, before.UnixMilli())
	if err != nil {
		return 0, translate(ctx, "prune challenges", err)
	}
	return int(n), nil
}

func challengeFromRow(r sqlcgen.Challenge) domain.Challenge {
	return domain.Challenge{
		ID:        r.ID,
		Purpose:   domain.ChallengePurpose(r.Purpose),
		UserID:    r.UserID.String,
		Data:      nonEmpty(r.Data),
		AMR:       strings.Fields(r.Amr),
		CreatedAt: timeFromMillis(r.CreatedAt),
		ExpiresAt: timeFromMillis(r.ExpiresAt),
		Failures:  int(r.Failures),
		UsedAt:    timeFromNull(r.UsedAt),
	}
}
