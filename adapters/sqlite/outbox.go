package sqlite

import (
	"context"
	"database/sql"
	"time"

	"authapi/db/sqlite/sqlcgen"
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
		queuedAt := m.QueuedAt.UnixMilli()
		if m.Slot != "" {
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
			Slot:      sql.NullString{String: m.Slot, Valid: m.Slot != ""},
			QueuedAt:  queuedAt,
			ExpiresAt: nullFromTime(m.ExpiresAt),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ClaimMail claims up to limit messages due at now, oldest first, until
// now+lease.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ports.QueuedMail, error) {
	var claimed []ports.QueuedMail
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		rows, err := q.DueMail(ctx, sqlcgen.DueMailParams{Now: now.UnixMilli(), MaxMessages: int64(limit)})
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]string, len(rows))
		claimed = make([]ports.QueuedMail, len(rows))
		for i, r := range rows {
			ids[i], claimed[i] = r.ID, mailFromRow(r)
		}
		return q.LeaseMail(ctx, sqlcgen.LeaseMailParams{LeaseUntil: now.Add(lease).UnixMilli(), Ids: ids})
	})
	if err != nil {
		return nil, translate(ctx, "claim mail", err)
	}
	return claimed, nil
}

// RescheduleMail makes a claimed message due at at.
func (s *Store) RescheduleMail(ctx context.Context, id string, at time.Time) error {
	err := s.writes.RescheduleMail(ctx, sqlcgen.RescheduleMailParams{ID: id, NextAttemptAt: at.UnixMilli()})
	return translate(ctx, "release mail", err)
}

// mailFromRow is the one conversion from an outbox row to a queued message.
func mailFromRow(r sqlcgen.DueMailRow) ports.QueuedMail {
	return ports.QueuedMail{
		OutgoingMail: ports.OutgoingMail{
			Message: ports.Message{
				ID:      r.ID,
				To:      domain.Email(r.Recipient),
				Subject: r.Subject,
				Text:    r.TextBody,
				HTML:    r.HtmlBody,
			},
			Slot:      r.Slot.String,
			ExpiresAt: timeFromNull(r.ExpiresAt),
			QueuedAt:  timeFromMillis(r.QueuedAt),
		},
		Attempts: int(r.Attempts),
	}
}

// MarkSent records a delivery; the body, and the code in it, is erased.
func (s *Store) MarkSent(ctx context.Context, id string, now time.Time) error {
	err := s.writes.MarkMailSent(ctx, sqlcgen.MarkMailSentParams{ID: id, Now: now.UnixMilli()})
	return translate(ctx, "mark mail sent", err)
}

// RetryLater records a failed attempt and when the next is due.
func (s *Store) RetryLater(ctx context.Context, id string, attempts int, next time.Time, lastError string) error {
	err := s.writes.RetryMail(ctx, sqlcgen.RetryMailParams{
		ID: id, Attempts: int64(attempts), NextAttemptAt: next.UnixMilli(), LastError: lastError,
	})
	return translate(ctx, "retry mail", err)
}

// MarkDead gives up on a message, keeping the reason and erasing the body.
func (s *Store) MarkDead(ctx context.Context, id string, attempts int, now time.Time, reason string) error {
	err := s.writes.MarkMailDead(ctx, sqlcgen.MarkMailDeadParams{
		ID: id, Attempts: int64(attempts), Now: now.UnixMilli(), Reason: reason,
	})
	return translate(ctx, "mark mail dead", err)
}

// MailStats counts messages by state.
func (s *Store) MailStats(ctx context.Context, now time.Time) (ports.MailStats, error) {
	rows, err := s.reads.MailStats(ctx)
	if err != nil {
		return ports.MailStats{}, translate(ctx, "mail stats", err)
	}
	var st ports.MailStats
	for _, r := range rows {
		n := int(r.Messages)
		switch r.State {
		case mailPending:
			st.Pending = n
			st.OldestPending = max(0, now.Sub(timeFromMillis(r.OldestQueuedAt)))
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
	n, err := s.writes.PruneMail(ctx, before.UnixMilli())
	if err != nil {
		return 0, translate(ctx, "prune mail", err)
	}
	return int(n), nil
}
