package otp

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"authapi/domain"
)

// TestRFC6238Vectors checks the codes against the test vectors of RFC 6238,
// appendix B (SHA-1, the 20-byte ASCII secret "12345678901234567890"), cut
// to the six digits the service uses: the last six of each eight-digit
// code.
func TestRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string // eight digits, as the RFC lists them
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := domain.TOTPStepAt(time.Unix(v.unix, 0))
		got, err := Authenticator{}.CodeAt(secret, step)
		if err != nil {
			t.Fatal(err)
		}
		if want := v.code[2:]; got != want {
			t.Errorf("code at %d = %s, want %s", v.unix, got, want)
		}
	}
	if _, err := (Authenticator{}).CodeAt(secret, -1); err == nil {
		t.Error("a negative step gave a code")
	}
}

func TestEnrolment(t *testing.T) {
	secret := []byte("12345678901234567890")
	e, err := Authenticator{}.Enrolment("Example Co", "astro@example.com", secret)
	if err != nil {
		t.Fatal(err)
	}
	if e.Secret != domain.TOTPSecretBase32(secret) {
		t.Errorf("secret = %q, want %q", e.Secret, domain.TOTPSecretBase32(secret))
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || !strings.Contains(u.Path, "astro@example.com") ||
		q.Get("issuer") != "Example Co" || q.Get("secret") != e.Secret ||
		(q.Get("algorithm") != "" && q.Get("algorithm") != "SHA1") || (q.Get("digits") != "" && q.Get("digits") != "6") ||
		(q.Get("period") != "" && q.Get("period") != "30") {
		t.Errorf("URI %s: want otpauth://totp/... with the issuer, account, secret and the defaults", e.URI)
	}
	data, ok := strings.CutPrefix(e.QRCode, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QR code %.40s...: want a PNG data URI", e.QRCode)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the QR code is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != qrSize || b.Dy() != qrSize {
		t.Errorf("QR code is %dx%d, want %dx%d", b.Dx(), b.Dy(), qrSize, qrSize)
	}
}
