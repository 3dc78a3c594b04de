// Package outbox delivers the mail that account changes queue: it polls the
// outbox, sends each due message through the mailer, and retries failures
// with exponential backoff and jitter until the message is delivered, expires
// or runs out of attempts.
//
// Delivery is at least once: a message is sent again only if the process
// stopped between handing it to the mail server and recording that. Each
// message keeps its id across attempts, and mailers derive the Message-ID
// header from it, so such a repeat is recognisable.
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"authapi/ports"
)

// Config tunes delivery.
type Config struct {
	// MaxAttempts is how many failed attempts make a message dead.
	MaxAttempts int
	// MaxAge is how long after queuing a message is still worth sending.
	MaxAge time.Duration
	// BaseDelay is the wait after the first failure; it doubles after each
	// further failure, up to MaxDelay.
	BaseDelay, MaxDelay time.Duration
	// PollInterval bounds how long a due message waits when no wake-up
	// arrives, e.g. a retry whose time has come.
	PollInterval time.Duration
	// BatchSize is how many messages one pass delivers at most.
	BatchSize int
	// Lease is how long a claimed message is held for this dispatcher:
	// other dispatchers, such as those of other replicas, skip it until
	// then. The claim is renewed while a send takes long, so the lease is
	// what a dispatcher that dies costs the message it was sending: it is
	// taken over when the lease runs out.
	Lease time.Duration
	// SendTimeout bounds one delivery attempt.
	SendTimeout time.Duration
	// Retention is how long settled messages are kept for inspection.
	Retention time.Duration
}

// DefaultConfig suits a production mail server: a few minutes of outage cost
// a few minutes of delay, and a message is tried for a day at most.
func DefaultConfig() Config {
	return Config{
		MaxAttempts:  12,
		MaxAge:       24 * time.Hour,
		BaseDelay:    2 * time.Second,
		MaxDelay:     5 * time.Minute,
		PollInterval: time.Second,
		BatchSize:    32,
		Lease:        15 * time.Second,
		SendTimeout:  time.Minute,
		Retention:    7 * 24 * time.Hour,
	}
}

var _ ports.MailNotifier = (*Dispatcher)(nil)

// Dispatcher moves mail from the outbox to the mailer.
type Dispatcher struct {
	outbox ports.Outbox
	mailer ports.Mailer
	clock  ports.Clock
	random ports.Random
	log    *slog.Logger
	cfg    Config
	wake   chan struct{}
}

// New returns a dispatcher; call Run to start delivering.
func New(outbox ports.Outbox, mailer ports.Mailer, clock ports.Clock, random ports.Random, log *slog.Logger, cfg Config) (*Dispatcher, error) {
	switch {
	case outbox == nil, mailer == nil, clock == nil, random == nil, log == nil:
		return nil, errors.New("outbox: every dependency is required")
	case cfg.MaxAttempts < 1, cfg.MaxAge <= 0, cfg.BaseDelay <= 0, cfg.MaxDelay < cfg.BaseDelay,
		cfg.PollInterval <= 0, cfg.BatchSize < 1, cfg.Retention <= 0,
		cfg.SendTimeout <= 0, cfg.Lease < 3*time.Second:
		return nil, fmt.Errorf("outbox: invalid config %+v", cfg)
	}
	return &Dispatcher{
		outbox: outbox, mailer: mailer, clock: clock, random: random, log: log, cfg: cfg,
		wake: make(chan struct{}, 1),
	}, nil
}

// MailQueued wakes the dispatcher so that new mail goes out at once. It
// never blocks: one pending wake-up covers any number of new messages.
func (d *Dispatcher) MailQueued() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers mail until ctx is done. Mail queued before a restart is picked
// up by the first pass. A message being sent when ctx ends is handed back
// and sent again by the next run, or by another replica.
func (d *Dispatcher) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.wake:
		}
		for {
			n, err := d.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "outbox pass failed; will retry", "error", err)
			}
			// A full batch suggests more are due right away.
			if err != nil || n < d.cfg.BatchSize || ctx.Err() != nil {
				break
			}
		}
		if now := d.clock.Now(); now.Sub(lastPrune) >= time.Hour {
			lastPrune = now
			d.prune(ctx, now)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d.cfg.PollInterval)
	}
}

// Stats summarizes the outbox now, for readiness reports.
func (d *Dispatcher) Stats(ctx context.Context) (ports.MailStats, error) {
	return d.outbox.MailStats(ctx, d.clock.Now())
}

// DeliverDue makes one pass over the messages due now and returns how many it
// handled, delivered or not. It claims one message at a time, right before
// sending it, so that it holds no message it is not sending: dispatchers of
// other replicas deliver the rest meanwhile, and if this process dies, only
// the message in flight waits for its lease to run out.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	for n := range d.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		claimed, err := d.outbox.ClaimMail(ctx, d.clock.Now(), d.cfg.Lease, 1)
		if err != nil {
			return n, fmt.Errorf("claim due mail: %w", err)
		}
		if len(claimed) == 0 {
			return n, nil
		}
		if err := d.deliver(ctx, claimed[0]); err != nil {
			d.handBack(claimed[0])
			return n, err
		}
	}
	return d.cfg.BatchSize, nil
}

// handBack makes a claimed message that was not settled due at once, so
// that a restart or another replica need not wait for its lease. It runs
// when the dispatcher stops, so it does not take the dispatcher's context;
// it gives up after a few seconds, and then the lease still frees the
// message.
func (d *Dispatcher) handBack(msg ports.QueuedMail) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.outbox.RescheduleMail(ctx, msg.ID, d.clock.Now()); err != nil {
		d.log.WarnContext(ctx, "handing back claimed mail failed; it is sent when its lease runs out",
			"message_id", msg.ID, "error", err)
	}
}

// keepClaim renews the claim on msg every third of the lease until stop is
// called, so that a slow send does not lose its message to another
// dispatcher.
func (d *Dispatcher) keepClaim(ctx context.Context, msg ports.QueuedMail) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ticker := time.NewTicker(d.cfg.Lease / 3)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if err := d.outbox.RescheduleMail(ctx, msg.ID, d.clock.Now().Add(d.cfg.Lease)); err != nil && ctx.Err() == nil {
					d.log.WarnContext(ctx, "renewing the claim on mail failed", "message_id", msg.ID, "error", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// deliver tries one message and records the outcome. Its error is about
// recording, not sending: a failed send is a normal, recorded outcome.
func (d *Dispatcher) deliver(ctx context.Context, msg ports.QueuedMail) error {
	now := d.clock.Now()
	log := d.log.With("message_id", msg.ID, "to", msg.To.String())
	if reason := d.tooLate(msg, now); reason != "" {
		log.WarnContext(ctx, "mail given up: "+reason, "attempts", msg.Attempts)
		return d.outbox.MarkDead(ctx, msg.ID, msg.Attempts, now, reason)
	}
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	stopRenewing := d.keepClaim(ctx, msg)
	sendErr := d.mailer.Send(sendCtx, msg.Message)
	stopRenewing()
	cancel()
	now = d.clock.Now()
	if sendErr == nil {
		if msg.Attempts > 0 {
			log.InfoContext(ctx, "mail delivered after retrying", "failed_attempts", msg.Attempts)
		}
		return d.outbox.MarkSent(ctx, msg.ID, now)
	}
	if ctx.Err() != nil {
		// Shutting down: the attempt was cut short, not refused; the
		// caller hands the message back for the next run.
		return ctx.Err()
	}
	attempts := msg.Attempts + 1
	if attempts >= d.cfg.MaxAttempts {
		log.ErrorContext(ctx, "mail given up after its last attempt", "attempts", attempts, "error", sendErr)
		return d.outbox.MarkDead(ctx, msg.ID, attempts, now, sendErr.Error())
	}
	next := now.Add(d.backoff(attempts))
	log.WarnContext(ctx, "mail delivery failed; will retry", "attempts", attempts, "retry_at", next, "error", sendErr)
	return d.outbox.RetryLater(ctx, msg.ID, attempts, next, sendErr.Error())
}

// tooLate says why a message is no longer worth sending, or "".
func (d *Dispatcher) tooLate(msg ports.QueuedMail, now time.Time) string {
	switch {
	case !msg.ExpiresAt.IsZero() && !now.Before(msg.ExpiresAt):
		return "expired before it could be delivered"
	case now.Sub(msg.QueuedAt) >= d.cfg.MaxAge:
		return "queued for longer than the maximum age"
	}
	return ""
}

// backoff is the wait after the given number of failed attempts: the base
// delay doubled per further failure, capped, then drawn uniformly from its
// upper half so that messages that failed together do not retry together.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	delay := d.cfg.MaxDelay
	if shift := attempts - 1; shift < 32 && d.cfg.BaseDelay<<shift < d.cfg.MaxDelay {
		delay = d.cfg.BaseDelay << shift
	}
	var b [8]byte
	if _, err := d.random.Read(b[:]); err != nil {
		return delay
	}
	half := delay / 2
	return half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(half+1))
}

func (d *Dispatcher) prune(ctx context.Context, now time.Time) {
	n, err := d.outbox.PruneMail(ctx, now.Add(-d.cfg.Retention))
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "pruning the outbox failed", "error", err)
		}
		return
	}
	if n > 0 {
		d.log.InfoContext(ctx, "pruned settled mail from the outbox", "messages", n)
	}
}
