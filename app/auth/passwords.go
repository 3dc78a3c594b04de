package auth

import (
	"context"
	"errors"
	"strings"

	"authapi/domain"
	"authapi/ports"
)

// passwordContext lists what the password policy should treat as guessable
// for this registration: an attacker who targets an account tries the
// owner's email and name first.
func passwordContext(reg domain.Registration) []string {
	local, _, _ := strings.Cut(string(reg.Email), "@")
	return []string{string(reg.Email), local, reg.FirstName, reg.LastName}
}

// errHashReplaced stops a rehash whose verified hash is no longer stored.
var errHashReplaced = errors.New("the stored password hash changed after it was verified")

// rehash stores a new hash of password under the hasher's current
// parameters if user's hash was made under others. A login is the only time
// the service holds the password, so this is how stronger settings reach
// existing accounts. The login has already succeeded: a failure here is
// logged and the next login tries again.
func (s *Service) rehash(ctx context.Context, user domain.User, password string) {
	if !s.hasher.NeedsRehash(user.PasswordHash) {
		return
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "could not rehash a password with the current parameters", "user_id", user.ID, "error", err)
		return
	}
	now := s.now()
	_, err = s.users.UpdateUser(ctx, ports.UserID(user.ID), func(u *domain.User) (ports.Effects, error) {
		// Whatever replaced the hash since it was verified, such as a
		// password change, is newer than this login and must stand.
		if u.PasswordHash != user.PasswordHash {
			return ports.Effects{}, errHashReplaced
		}
		u.PasswordHash = hash
		u.UpdatedAt = now
		return ports.Effects{}, nil
	})
	switch {
	case errors.Is(err, errHashReplaced):
		return
	case err != nil:
		s.log.WarnContext(ctx, "could not store a password hash with the current parameters", "user_id", user.ID, "error", err)
	default:
		s.log.InfoContext(ctx, "password hash upgraded to the current parameters", "user_id", user.ID)
	}
}
