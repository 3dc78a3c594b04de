package token

import (
	"errors"
	"fmt"
	"time"

	"authapi/ports"
)

// KeyState is the role of a key of a key set at some moment.
type KeyState int

// The roles a key goes through, in this order.
const (
	// KeyNext is a key whose ActiveFrom has not come: it is published and
	// verifies, so that every client knows it before its first token, but
	// signs nothing yet.
	KeyNext KeyState = iota + 1
	// KeySigning is the newest key whose ActiveFrom has come: it signs new
	// tokens and verifies them.
	KeySigning
	// KeyVerifying is an older key that tokens signed before its successor
	// took over may still carry: it verifies them but signs nothing.
	KeyVerifying
	// KeyRetired is an older key whose tokens have all expired: it verifies
	// nothing, is left out of the JWKS, and the next rotation drops it.
	KeyRetired
)

// String returns the state's name as `authapi keys list` prints it.
func (s KeyState) String() string {
	switch s {
	case KeyNext:
		return "next"
	case KeySigning:
		return "signing"
	case KeyVerifying:
		return "verifying"
	case KeyRetired:
		return "retired"
	}
	return fmt.Sprintf("KeyState(%d)", int(s))
}

// KeyInfo describes a key of a key set without revealing anything secret.
type KeyInfo struct {
	ID      string    // the kid: the key's RFC 7638 thumbprint
	Created time.Time // zero when the key predates dated keys
	// ActiveFrom is when the key starts signing: its ActiveFrom, or its
	// Created when that is zero.
	ActiveFrom time.Time
	State      KeyState
	// RetiresAt is when the key stops verifying: the time its successor
	// starts signing plus the key lifetime. It is zero for the newest key.
	RetiresAt time.Time
}

// Inspect reports the state at now of each key of keys (oldest first, see
// ports.SigningKey). lifetime is the longest any token stays valid: the
// larger of the access and refresh token lifetimes.
//
// An older key retires lifetime after the key following it starts signing.
// That assumes the service loads the new key by then: tokens it keeps
// signing with the old key after that time expire up to that delay after
// the key retired, and are refused from then on, so their users must log in
// again. Erring this way never extends a key's life.
func Inspect(keys []ports.SigningKey, now time.Time, lifetime time.Duration) ([]KeyInfo, error) {
	if lifetime <= 0 {
		return nil, errors.New("inspect signing keys: key lifetime must be positive")
	}
	if err := checkKeys(keys); err != nil {
		return nil, fmt.Errorf("inspect signing keys: %w", err)
	}
	states := keyStates(keys, now, lifetime)
	infos := make([]KeyInfo, len(keys))
	for i, k := range keys {
		kid, err := Thumbprint(&k.Private.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		infos[i] = KeyInfo{
			ID:         kid,
			Created:    k.Created,
			ActiveFrom: activeFrom(k),
			State:      states[i],
			RetiresAt:  retiresAt(keys, i, lifetime),
		}
	}
	return infos, nil
}

// Prune splits keys (oldest first, see ports.SigningKey) into those not
// retired at now and those retired; see Inspect for lifetime. Both keep the
// order of keys. The key signing at now is always kept, and so is every
// next key.
func Prune(keys []ports.SigningKey, now time.Time, lifetime time.Duration) (kept, retired []ports.SigningKey) {
	for i, state := range keyStates(keys, now, lifetime) {
		if state == KeyRetired {
			retired = append(retired, keys[i])
			continue
		}
		kept = append(kept, keys[i])
	}
	return kept, retired
}

// keyStates returns the state at now of each key.
func keyStates(keys []ports.SigningKey, now time.Time, lifetime time.Duration) []KeyState {
	signing := signingIndex(keys, now)
	states := make([]KeyState, len(keys))
	for i := range keys {
		switch {
		case i > signing:
			states[i] = KeyNext
		case i == signing:
			states[i] = KeySigning
		case now.Before(retiresAt(keys, i, lifetime)):
			states[i] = KeyVerifying
		default:
			states[i] = KeyRetired
		}
	}
	return states
}

// signingIndex returns the index of the key that signs at now: the newest
// whose ActiveFrom has come, or else the oldest, since something must sign.
func signingIndex(keys []ports.SigningKey, now time.Time) int {
	for i := len(keys) - 1; i > 0; i-- {
		if !now.Before(activeFrom(keys[i])) {
			return i
		}
	}
	return 0
}

// retiresAt returns when keys[i] stops verifying, or zero for the newest
// key. Callers have checked that every key after the first is dated
// (checkKeys).
func retiresAt(keys []ports.SigningKey, i int, lifetime time.Duration) time.Time {
	if i == len(keys)-1 {
		return time.Time{}
	}
	return activeFrom(keys[i+1]).Add(lifetime)
}

// activeFrom returns when k starts signing.
func activeFrom(k ports.SigningKey) time.Time {
	if k.ActiveFrom.IsZero() {
		return k.Created
	}
	return k.ActiveFrom
}
