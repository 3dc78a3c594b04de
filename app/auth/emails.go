package auth

import (
	"fmt"
	"net/url"
	"time"

	"authapi/app/emails"
	"authapi/domain"
	"authapi/ports"
)

// activationMail composes the email that carries an activation code and
// link. Its slot makes a newer code's email supersede an older one still
// queued, and it expires with the code.
func (s *Service) activationMail(user domain.User, secrets domain.CodeSecrets, now time.Time) (ports.OutgoingMail, error) {
	data := emails.Activation{
		FirstName: user.FirstName,
		Code:      string(secrets.Code),
		ExpiresIn: humanDuration(s.cfg.ActivationCodeTTL),
		Link:      s.link("activate", user.Email, secrets.Link),
	}
	return s.composeMail(user, data, "activation:"+user.ID, user.Activation.ExpiresAt, now)
}

// link points to one of the service's pages, which asks for a click before
// acting: mail scanners follow links, so opening one must change nothing.
// It carries the long token, never the short code, which is for typing.
func (s *Service) link(page string, email domain.Email, token domain.LinkToken) string {
	link := s.cfg.PublicURL.JoinPath(page)
	link.RawQuery = url.Values{"email": {string(email)}, "token": {string(token)}}.Encode()
	return link.String()
}

// humanDuration renders a TTL for people: "1 hour", "15 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d.Round(time.Second)/time.Second), "second")
	}
}

// composeMail renders the email of data to user and queues it under slot
// (empty: none), to be given up at expires (zero: never).
func (s *Service) composeMail(user domain.User, data emails.Data, slot string, expires, now time.Time) (ports.OutgoingMail, error) {
	mail, err := s.cfg.Emails.Render(data)
	if err != nil {
		return ports.OutgoingMail{}, err
	}
	id, err := domain.NewID(now, s.random)
	if err != nil {
		return ports.OutgoingMail{}, err
	}
	return ports.OutgoingMail{
		Message:   ports.Message{ID: id, To: user.Email, Subject: mail.Subject, Text: mail.Text, HTML: mail.HTML},
		Slot:      slot,
		ExpiresAt: expires,
		QueuedAt:  now,
	}, nil
}
