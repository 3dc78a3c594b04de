package testkit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"
)

// Authenticator is a WebAuthn authenticator and the browser around it, for
// tests: it answers the options a relying party sends to
// navigator.credentials.create and .get with the JSON a browser's
// PublicKeyCredential.toJSON() gives. It is written from the W3C Web
// Authentication specification alone (ES256 keys, "none" attestation, its
// own CBOR encoder), so that tests need not trust the library the service
// checks passkeys with.
//
// Its fields are what a test varies to play a browser or an authenticator
// that misbehaves.
type Authenticator struct {
	// Origin is the origin of the page, which the client data names.
	Origin string
	// RPID, when set, is signed for instead of the options' rpId, as an
	// authenticator of another site would.
	RPID string
	// UserVerified sets the UV flag: the user gave a PIN or biometrics.
	UserVerified bool
	// BackupEligible sets the BE (and BS) flags: a synced passkey.
	BackupEligible bool
	// NoCounter makes the authenticator report a signature counter of 0
	// always, as many platform authenticators do.
	NoCounter bool
	AAGUID    [16]byte

	Credentials []*Credential
}

// Credential is a key pair the authenticator made.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// Counter is the signature counter, incremented before each signature.
	Counter uint32
}

// NewAuthenticator returns an authenticator on a page of origin that
// verifies its user.
func NewAuthenticator(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UserVerified: true, AAGUID: [16]byte{0xaa, 0x01}}
}

type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		PubKeyCredParams []struct {
			Alg int `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

var b64 = base64.RawURLEncoding

// Create makes a credential for the creation options (the JSON a relying
// party sends, {"publicKey": ...}) and returns the browser's answer.
func (a *Authenticator) Create(t testing.TB, options []byte) []byte {
	t.Helper()
	var opts creationOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("creation options: %v: %s", err, options)
	}
	o := opts.PublicKey
	if !slices.ContainsFunc(o.PubKeyCredParams, func(p struct {
		Alg int `json:"alg"`
	}) bool {
		return p.Alg == -7
	}) {
		t.Fatalf("the relying party does not accept ES256: %s", options)
	}
	rpID := o.RP.ID
	for _, ex := range o.ExcludeCredentials {
		for _, c := range a.Credentials {
			if ex.ID == b64.EncodeToString(c.ID) && c.RPID == rpID {
				t.Fatalf("the authenticator holds an excluded credential")
			}
		}
	}
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		t.Fatalf("user id: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred := &Credential{ID: randomBytes(t, 32), RPID: rpID, UserHandle: handle, Key: key}
	a.Credentials = append(a.Credentials, cred)

	clientData := a.clientData("webauthn.create", o.Challenge)
	authData := a.authData(cred, true)
	attestation := cborMap(
		cborText("fmt"), cborText("none"),
		cborText("attStmt"), cborMap(),
		cborText("authData"), cborBytes(authData),
	)
	return a.credentialJSON(cred, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"attestationObject": b64.EncodeToString(attestation),
		"transports":        []string{"internal"},
	})
}

// Get signs the request options (the JSON a relying party sends) with a
// credential they allow, or with any of the site's when they allow all,
// and returns the browser's answer.
func (a *Authenticator) Get(t testing.TB, options []byte) []byte {
	t.Helper()
	var opts requestOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("request options: %v: %s", err, options)
	}
	o := opts.PublicKey
	var cred *Credential
	for _, c := range slices.Backward(a.Credentials) {
		if c.RPID != o.RPID {
			continue
		}
		allowed := len(o.AllowCredentials) == 0
		for _, ac := range o.AllowCredentials {
			allowed = allowed || ac.ID == b64.EncodeToString(c.ID)
		}
		if allowed {
			cred = c
			break
		}
	}
	if cred == nil {
		t.Fatalf("the authenticator holds no credential the options allow: %s", options)
	}
	return a.Sign(t, cred, o.Challenge)
}

// Sign answers challenge (base64url, as options carry it) with cred.
func (a *Authenticator) Sign(t testing.TB, cred *Credential, challenge string) []byte {
	t.Helper()
	clientData := a.clientData("webauthn.get", challenge)
	authData := a.authData(cred, false)
	digest := sha256.Sum256(clientData)
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, sha256Of(append(slices.Clip(authData), digest[:]...)))
	if err != nil {
		t.Fatal(err)
	}
	return a.credentialJSON(cred, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(cred.UserHandle),
	})
}

// Challenge returns the challenge of options, creation or request.
func Challenge(t testing.TB, options []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("no challenge in %s (%v)", options, err)
	}
	return o.PublicKey.Challenge
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	data, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return data
}

// authData is the authenticator data: the RP ID's hash, flags, the
// counter and, at creation, the attested credential.
func (a *Authenticator) authData(cred *Credential, attested bool) []byte {
	rpID := cred.RPID
	if a.RPID != "" {
		rpID = a.RPID
	}
	rpHash := sha256.Sum256([]byte(rpID))
	flags := byte(0x01) // UP
	if a.UserVerified {
		flags |= 0x04
	}
	if a.BackupEligible {
		flags |= 0x08 | 0x10
	}
	if attested {
		flags |= 0x40
	}
	if !a.NoCounter {
		cred.Counter++
	}
	var b bytes.Buffer
	b.Write(rpHash[:])
	b.WriteByte(flags)
	_ = binary.Write(&b, binary.BigEndian, cred.Counter)
	if attested {
		b.Write(a.AAGUID[:])
		_ = binary.Write(&b, binary.BigEndian, uint16(len(cred.ID)))
		b.Write(cred.ID)
		b.Write(coseKey(&cred.Key.PublicKey))
	}
	return b.Bytes()
}

func (a *Authenticator) credentialJSON(cred *Credential, response map[string]any) []byte {
	id := b64.EncodeToString(cred.ID)
	data, _ := json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key",
		"authenticatorAttachment": "platform",
		"response":                response,
		"clientExtensionResults":  map[string]any{},
	})
	return data
}

// coseKey is an EC2 P-256 public key for ES256 (RFC 9053): kty 2, alg -7,
// crv 1, x, y.
func coseKey(pub *ecdsa.PublicKey) []byte {
	raw, _ := pub.Bytes() // 0x04 || x || y
	return cborMap(
		cborInt(1), cborInt(2),
		cborInt(3), cborInt(-7),
		cborInt(-1), cborInt(1),
		cborInt(-2), cborBytes(raw[1:33]),
		cborInt(-3), cborBytes(raw[33:65]),
	)
}

// The CBOR (RFC 8949) the authenticator needs: integers, byte and text
// strings, and maps, in their shortest forms.

func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n <= 0xff:
		return []byte{major<<5 | 24, byte(n)}
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	default:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	}
}

func cborInt(n int) []byte {
	if n < 0 {
		return cborHead(1, uint64(-1-n))
	}
	return cborHead(0, uint64(n))
}

func cborBytes(b []byte) []byte { return append(cborHead(2, uint64(len(b))), b...) }
func cborText(s string) []byte  { return append(cborHead(3, uint64(len(s))), s...) }

// cborMap encodes its arguments, each already encoded, as key, value, ...
func cborMap(kv ...[]byte) []byte {
	out := cborHead(5, uint64(len(kv)/2))
	for _, item := range kv {
		out = append(out, item...)
	}
	return out
}

func sha256Of(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
