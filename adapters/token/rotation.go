package token

import (
	"fmt"
	"time"
)

// KeyState is the role of a key of a key file at some moment.
type KeyState int

// The roles a key goes through, in this order.
const (
	// KeySigning is the newest key: it signs new tokens and verifies them.
	KeySigning KeyState = iota + 1
	// KeyVerifying is an older key that tokens signed before the rotation
	// may still carry: it verifies them but signs nothing.
	KeyVerifying
	// KeyRetired is an older key whose tokens have all expired: it verifies
	// nothing, is left out of the JWKS, and the next rotation drops it.
	KeyRetired
)

// String returns the state's name as `authapi keys list` prints it.
func (s KeyState) String() string {
	switch s {
	case KeySigning:
		return "signing"
	case KeyVerifying:
		return "verifying"
	case KeyRetired:
		return "retired"
	}
	return fmt.Sprintf("KeyState(%d)", int(s))
}

// KeyInfo describes a key of a key file without revealing anything secret.
type KeyInfo struct {
	ID      string    // the kid: the key's RFC 7638 thumbprint
	Created time.Time // zero when the file predates dated keys
	State   KeyState
	// RetiresAt is when an older key stops verifying: the time its successor
	// was added plus the key lifetime. It is zero for the signing key.
	RetiresAt time.Time
}

// Inspect reports the state at now of each key, as ReadKeys returns them
// (oldest first). lifetime is the longest any token stays valid: the larger
// of the access and refresh token lifetimes.
//
// An older key retires lifetime after the key following it was added. That
// assumes the service was restarted promptly after the rotation: tokens the
// service kept signing with the old key until then expire up to that delay
// after the key retired, and are refused from then on, so their users must
// log in again. Erring this way never extends a key's life.
func Inspect(keys []Key, now time.Time, lifetime time.Duration) ([]KeyInfo, error) {
	infos := make([]KeyInfo, len(keys))
	for i, k := range keys {
		kid, err := Thumbprint(&k.Private.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		retires := retiresAt(keys, i, lifetime)
		state := KeySigning
		switch {
		case retires.IsZero():
		case now.Before(retires):
			state = KeyVerifying
		default:
			state = KeyRetired
		}
		infos[i] = KeyInfo{ID: kid, Created: k.Created, State: state, RetiresAt: retires}
	}
	return infos, nil
}

// Prune splits keys (oldest first, as ReadKeys returns them) into those
// still signing or verifying at now and those retired; see Inspect for
// lifetime. Both keep the order of keys. The newest key is always kept.
func Prune(keys []Key, now time.Time, lifetime time.Duration) (kept, retired []Key) {
	for i, k := range keys {
		if r := retiresAt(keys, i, lifetime); !r.IsZero() && !now.Before(r) {
			retired = append(retired, k)
			continue
		}
		kept = append(kept, k)
	}
	return kept, retired
}

// retiresAt returns when keys[i] stops verifying, or zero for the newest
// key, which signs. Callers have checked that every key after the first is
// dated (checkKeys).
func retiresAt(keys []Key, i int, lifetime time.Duration) time.Time {
	if i == len(keys)-1 {
		return time.Time{}
	}
	return keys[i+1].Created.Add(lifetime)
}
