package domain

import (
	"bytes"
	"regexp"
	"testing"
	"time"
)

func TestGenerateActivationCode(t *testing.T) {
	tests := []struct {
		name   string
		random []byte
		want   SecretCode
	}{
		{"zero", []byte{0, 0, 0, 0}, "000000"},
		{"small value is zero-padded", []byte{0, 0, 0, 42}, "000042"},
		{"reduced modulo a million", []byte{0, 0x0f, 0x42, 0x41}, "000001"}, // 1_000_001
		// 0xffffffff is above the rejection limit, so the next four bytes are used.
		{"rejects the biased tail", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 7}, "000007"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GenerateSecretCode(bytes.NewReader(tt.random))
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestGenerateActivationCodeFailsOnShortRandom(t *testing.T) {
	if _, err := GenerateSecretCode(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("no error from an exhausted random source")
	}
}

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	random := bytes.Repeat([]byte{0xff}, 10)
	id, err := NewID(now, bytes.NewReader(random))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("id %q is not a UUIDv7", id)
	}
	later, err := NewID(now.Add(time.Millisecond), bytes.NewReader(make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if later <= id {
		t.Errorf("ids not time-ordered: %q then %q", id, later)
	}
	if _, err := NewID(now, bytes.NewReader(nil)); err == nil {
		t.Error("no error from an exhausted random source")
	}
}
