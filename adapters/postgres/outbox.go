package postgres

import (
	"context"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/domain"
	"authapi/ports"
)

var _ ports.Outbox = (*Store)(nil)

// Outbox states, as the outbox table names them.
const (
	mailPending    = "pending"
	mailSent       = "sent"
	mailDead       = "dead"
	mailSuperseded = "superseded"
)

// queueMail writes mail into the outbox inside the caller's transaction,
// superseding unsent messages of the same slot first.
func queueMail(ctx context.Context, q *sqlcgen.Queries, mail []ports.OutgoingMail) error {
	for _, m := range mail {
		queuedAt := ms(m.QueuedAt)
		var slot *string
		if m.Slot != "" {
			slot = &m.Slot
			if err := q.SupersedeMail(ctx, sqlcgen.SupersedeMailParams{Slot: m.Slot, Now: queuedAt}); err != nil {
				return err
			}
		}
		err := q.QueueMail(ctx, sqlcgen.QueueMailParams{
			ID:        m.ID,
			Recipient: string(m.To),
			Subject:   m.Subject,
			TextBody:  m.Text,
			HtmlBody:  m.HTML,
			Slot:      slot,
			QueuedAt:  queuedAt,
			ExpiresAt: optTime(m.ExpiresAt),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ClaimMail claims up to limit messages due at now, oldest first, until
// now+lease. Messages that another replica's claim is taking at the same
// moment are skipped rather than waited for.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ports.QueuedMail, error) {
	rows, err := s.db.q.ClaimMail(ctx, sqlcgen.ClaimMailParams{
		Now: ms(now), LeaseUntil: ms(now.Add(lease)), MaxMessages: int32(limit),
	})
	if err != nil {
		return nil, translate(ctx, "claim mail", err)
	}
	claimed := make([]ports.QueuedMail, len(rows))
	for i, r := range rows {
		claimed[i] = ports.QueuedMail{
			OutgoingMail: ports.OutgoingMail{
				Message: ports.Message{
					ID:      r.ID,
					To:      domain.Email(r.Recipient),
					Subject: r.Subject,
					Text:    r.TextBody,
					HTML:    r.HtmlBody,
				},
				Slot:      deref(r.Slot),
				ExpiresAt: fromOpt(r.ExpiresAt),
				QueuedAt:  r.QueuedAt.UTC(),
			},
			Attempts: int(r.Attempts),
		}
	}
	return claimed, nil
}

// RescheduleMail makes a claimed message due at at.
func (s *Store) RescheduleMail(ctx context.Context, id string, at time.Time) error {
	err := s.db.q.RescheduleMail(ctx, sqlcgen.RescheduleMailParams{ID: id, NextAttemptAt: ms(at)})
	return translate(ctx, "release mail", err)
}

// MarkSent records a delivery; the body, and the code in it, is erased.
func (s *Store) MarkSent(ctx context.Context, id string, now time.Time) error {
	err := s.db.q.MarkMailSent(ctx, sqlcgen.MarkMailSentParams{ID: id, Now: ms(now)})
	return translate(ctx, "mark mail sent", err)
}

// RetryLater records a failed attempt and when the next is due.
func (s *Store) RetryLater(ctx context.Context, id string, attempts int, next time.Time, lastError string) error {
	err := s.db.q.RetryMail(ctx, sqlcgen.RetryMailParams{
		ID: id, Attempts: int32(attempts), NextAttemptAt: ms(next), LastError: lastError,
	})
	return translate(ctx, "retry mail", err)
}

// MarkDead gives up on a message, keeping the reason and erasing the body.
func (s *Store) MarkDead(ctx context.Context, id string, attempts int, now time.Time, reason string) error {
	err := s.db.q.MarkMailDead(ctx, sqlcgen.MarkMailDeadParams{
		ID: id, Attempts: int32(attempts), Now: ms(now), Reason: reason,
	})
	return translate(ctx, "mark mail dead", err)
}

// MailStats counts messages by state.
func (s *Store) MailStats(ctx context.Context, now time.Time) (ports.MailStats, error) {
	rows, err := s.db.q.MailStats(ctx)
	if err != nil {
		return ports.MailStats{}, translate(ctx, "mail stats", err)
	}
	var st ports.MailStats
	for _, r := range rows {
		n := int(r.Messages)
		switch r.State {
		case mailPending:
			st.Pending = n
			st.OldestPending = max(0, ms(now).Sub(r.OldestQueuedAt))
		case mailSent:
			st.Sent = n
		case mailDead:
			st.Dead = n
		case mailSuperseded:
			st.Superseded = n
		}
	}
	return st, nil
}

// PruneMail deletes settled messages queued before the given time.
func (s *Store) PruneMail(ctx context.Context, before time.Time) (int, error) {
	n, err := s.db.q.PruneMail(ctx, ms(before))
	if err != nil {
		return 0, translate(ctx, "prune mail", err)
	}
	return int(n), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
