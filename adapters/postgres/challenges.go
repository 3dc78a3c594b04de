package postgres

import (
	"context"
	"strings"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.ChallengeStore = (*Store)(nil)

// CreateChallenge stores a new challenge.
func (s *Store) CreateChallenge(ctx context.Context, c domain.Challenge) error {
	var userID *string
	if c.UserID != "" {
		userID = &c.UserID
	}
	err := s.db.q.CreateChallenge(ctx, sqlcgen.CreateChallengeParams{
		ID:        c.ID,
		Purpose:   string(c.Purpose),
		UserID:    userID,
		Data:      nonEmpty(c.Data),
		Amr:       strings.Join(c.AMR, " "),
		CreatedAt: ms(c.CreatedAt),
		ExpiresAt: ms(c.ExpiresAt),
		Failures:  int32(c.Failures),
		UsedAt:    optTime(c.UsedAt),
	})
	return translate(ctx, "create challenge", err)
}

// UpdateChallenge locks, changes and saves a challenge in one transaction:
// replicas answering one challenge at once take turns.
func (s *Store) UpdateChallenge(ctx context.Context, id string, update func(*domain.Challenge) error) (domain.Challenge, error) {
	if !storable(id) {
		return domain.Challenge{}, domain.ErrChallengeNotFound
	}
	var (
		saved     domain.Challenge
		updateErr error
	)
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		row, err := q.LockChallenge(ctx, id)
		if err != nil {
			return err
		}
		c := challengeFromRow(row)
		if updateErr = update(&c); updateErr != nil {
			return updateErr
		}
		_, err = q.UpdateChallenge(ctx, sqlcgen.UpdateChallengeParams{
			ID: id, Failures: int32(c.Failures), UsedAt: optTime(c.UsedAt), Data: nonEmpty(c.Data),
		})
		saved = c
		return err
	})
	switch {
	case updateErr != nil:
		return domain.Challenge{}, updateErr
	case notFound(err):
		return domain.Challenge{}, domain.ErrChallengeNotFound
	case err != nil:
		return domain.Challenge{}, translate(ctx, "update challenge", err)
	}
	return saved, nil
}

// PruneChallenges deletes the challenges that expired before the time.
func (s *Store) PruneChallenges(ctx context.Context, before time.Time) (int, error) {
	n, err := s.db.q.PruneChallenges(ctx, ms(before))
	if err != nil {
		return 0, translate(ctx, "prune challenges", err)
	}
	return int(n), nil
}

func challengeFromRow(r sqlcgen.Challenge) domain.Challenge {
	return domain.Challenge{
		ID:        r.ID,
		Purpose:   domain.ChallengePurpose(r.Purpose),
		UserID:    deref(r.UserID),
		Data:      nonEmpty(r.Data),
		AMR:       strings.Fields(r.Amr),
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
		Failures:  int(r.Failures),
		UsedAt:    fromOpt(r.UsedAt),
	}
}
