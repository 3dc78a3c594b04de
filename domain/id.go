package domain

import (
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// NewID returns a UUIDv7 (RFC 9562): a millisecond timestamp followed by
// random bits. Time-ordered ids keep the primary-key index append-mostly,
// while the random part keeps ids unguessable.
func NewID(now time.Time, r io.Reader) (string, error) {
	var u [16]byte
	if _, err := io.ReadFull(r, u[6:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	ms := uint64(now.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return FormatUUID(u), nil
}

// FormatUUID writes 16 bytes in the UUID's text form (RFC 9562, 8-4-4-4-12
// lower-case hex digits).
func FormatUUID(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}
