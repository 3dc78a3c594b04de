// Package otp is the authenticator-app algorithm, TOTP (RFC 6238), through
// the maintained pquerna/otp library: the code of a time step, and the
// otpauth:// URI and QR code that enrol a secret in an app.
package otp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.Authenticator = Authenticator{}

// qrSize is the side, in pixels, of the enrolment QR code: large enough to
// scan from a screen, small enough to inline in a JSON answer.
const qrSize = 256

// Authenticator computes codes with the defaults every authenticator app
// accepts: HMAC-SHA-1, six digits, 30-second steps.
type Authenticator struct{}

// CodeAt returns the code of secret for a time step: the HOTP code of the
// step's counter, which is what TOTP is.
func (Authenticator) CodeAt(secret []byte, step int64) (string, error) {
	if step < 0 {
		return "", fmt.Errorf("otp: negative time step %d", step)
	}
	code, err := hotp.GenerateCodeCustom(domain.TOTPSecretBase32(secret), uint64(step), hotp.ValidateOpts{
		Digits:    otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("otp: %w", err)
	}
	return code, nil
}

// Enrolment makes the otpauth:// URI of secret and its QR code.
func (Authenticator) Enrolment(issuer, account string, secret []byte) (ports.TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(domain.TOTPStep.Seconds()),
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return ports.TOTPEnrolment{}, fmt.Errorf("otp: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return ports.TOTPEnrolment{}, fmt.Errorf("otp: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ports.TOTPEnrolment{}, fmt.Errorf("otp: QR code: %w", err)
	}
	return ports.TOTPEnrolment{
		Secret: key.Secret(),
		URI:    key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}
