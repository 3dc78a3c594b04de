package postgres

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/ports"
)

var _ ports.KeyStore = (*KeyStore)(nil)

// ErrKeysDoNotOpen reports signing keys in the database that this process's
// key-encryption key cannot open: another replica sealed them under another
// key.
var ErrKeysDoNotOpen = errors.New("the signing keys in the database do not open with this key-encryption key")

// KeyStore is the ports.KeyStore of a fleet: the signing keys live in the
// signing_keys table, each private key sealed with AES-256-GCM under a
// key-encryption key that every replica holds and the database does not.
// Updates take an exclusive lock on the table, so that rotations by several
// replicas take turns and each sees the set the one before left.
type KeyStore struct {
	db     *DB
	aead   cipher.AEAD
	random io.Reader
}

// NewKeyStore returns the key store on db, sealing under kek (32 bytes)
// with nonces drawn from random.
func NewKeyStore(db *DB, kek []byte, random io.Reader) (*KeyStore, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("postgres: key store: the key-encryption key has %d bytes, want 32", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KeyStore{db: db, aead: aead, random: random}, nil
}

// SigningKeys returns the keys, oldest first.
func (s *KeyStore) SigningKeys(ctx context.Context) ([]ports.SigningKey, error) {
	rows, err := s.db.q.SigningKeys(ctx)
	if err != nil {
		return nil, translate(ctx, "read signing keys", err)
	}
	return s.openAll(rows)
}

// UpdateSigningKeys replaces the set with what update makes of it, in one
// transaction that holds the table's lock.
func (s *KeyStore) UpdateSigningKeys(ctx context.Context, update func([]ports.SigningKey) ([]ports.SigningKey, error)) error {
	var updateErr error
	err := s.db.inTx(ctx, func(q *sqlcgen.Queries) error {
		if err := q.LockSigningKeys(ctx); err != nil {
			return err
		}
		rows, err := q.SigningKeys(ctx)
		if err != nil {
			return err
		}
		current, err := s.openAll(rows)
		if err != nil {
			updateErr = err
			return err
		}
		next, err := update(current)
		if err != nil {
			updateErr = err
			return err
		}
		if err := q.DeleteSigningKeys(ctx); err != nil {
			return err
		}
		for _, k := range next {
			params, err := s.seal(k)
			if err != nil {
				updateErr = err
				return err
			}
			if err := q.InsertSigningKey(ctx, params); err != nil {
				return err
			}
		}
		return nil
	})
	if updateErr != nil {
		return updateErr
	}
	return translate(ctx, "update signing keys", err)
}

// seal turns a key into its row.
func (s *KeyStore) seal(k ports.SigningKey) (sqlcgen.InsertSigningKeyParams, error) {
	if k.Private == nil {
		return sqlcgen.InsertSigningKeyParams{}, errors.New("postgres: a signing key without its private key")
	}
	created, activeFrom := ms(k.Created), ms(k.ActiveFrom)
	if k.ActiveFrom.IsZero() {
		activeFrom = created
	}
	public, err := x509.MarshalPKIXPublicKey(&k.Private.PublicKey)
	if err != nil {
		return sqlcgen.InsertSigningKeyParams{}, fmt.Errorf("postgres: seal signing key: %w", err)
	}
	private, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return sqlcgen.InsertSigningKeyParams{}, fmt.Errorf("postgres: seal signing key: %w", err)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return sqlcgen.InsertSigningKeyParams{}, fmt.Errorf("postgres: seal signing key: %w", err)
	}
	sealed := s.aead.Seal(nonce, nonce, private, keyAAD(public, created, activeFrom))
	return sqlcgen.InsertSigningKeyParams{PublicKey: public, SealedKey: sealed, CreatedAt: created, ActiveFrom: activeFrom}, nil
}

func (s *KeyStore) openAll(rows []sqlcgen.SigningKey) ([]ports.SigningKey, error) {
	keys := make([]ports.SigningKey, 0, len(rows))
	for _, r := range rows {
		k, err := s.open(r)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// open turns a row back into a key, checking that it is the key the row
// names.
func (s *KeyStore) open(r sqlcgen.SigningKey) (ports.SigningKey, error) {
	created, activeFrom := r.CreatedAt.UTC(), r.ActiveFrom.UTC()
	n := s.aead.NonceSize()
	if len(r.SealedKey) < n {
		return ports.SigningKey{}, ErrKeysDoNotOpen
	}
	private, err := s.aead.Open(nil, r.SealedKey[:n], r.SealedKey[n:], keyAAD(r.PublicKey, created, activeFrom))
	if err != nil {
		return ports.SigningKey{}, ErrKeysDoNotOpen
	}
	parsed, err := x509.ParsePKCS8PrivateKey(private)
	if err != nil {
		return ports.SigningKey{}, fmt.Errorf("postgres: a sealed signing key does not parse: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return ports.SigningKey{}, fmt.Errorf("postgres: a sealed signing key is a %T, want an ECDSA key", parsed)
	}
	public, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil || !bytes.Equal(public, r.PublicKey) {
		return ports.SigningKey{}, errors.New("postgres: a sealed signing key is not the key its row names")
	}
	return ports.SigningKey{Private: key, Created: created, ActiveFrom: activeFrom}, nil
}

// keyAAD is the associated data of a sealed key: what its row says of it.
func keyAAD(public []byte, created, activeFrom time.Time) []byte {
	aad := append([]byte("authapi signing key v1\x00"), public...)
	aad = binary.BigEndian.AppendUint64(aad, uint64(created.UnixMilli()))
	return binary.BigEndian.AppendUint64(aad, uint64(activeFrom.UnixMilli()))
}
