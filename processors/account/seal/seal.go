// Package seal protects a login's plaintext password on its way from the ingress stage to the
// names stage, which holds the hash to compare it with. The plaintext is sealed with AES-256-GCM
// under a key every account process shares, bound to the command it belongs to, and is opened
// only in memory by the names stage: it never reaches a topic, table or log in the clear.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const (
	version  = 1
	keyLen   = 32
	keyIDLen = 4
	// header: version, key id, nonce.
	headerLen = 1 + keyIDLen + 12
)

// ErrOpen reports a sealed value that cannot be opened: unknown key, tampering, or a value
// sealed for another command.
var ErrOpen = errors.New("sealed password cannot be opened")

type key struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// Sealer seals with its first key and opens with any of its keys, so keys can be rotated by
// adding the new key first and removing the old one after every sealed message is consumed.
type Sealer struct {
	keys []key
}

// New builds a Sealer from raw 32-byte keys, the sealing key first.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != keyLen {
			return nil, fmt.Errorf("seal: key %d has %d bytes, want %d", i, len(k), keyLen)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(k)
		var kk key
		copy(kk.id[:], sum[:keyIDLen])
		kk.aead = aead
		s.keys = append(s.keys, kk)
	}
	return s, nil
}

// ParseKeys reads keys written as comma-separated standard base64 (the form of the
// ATLAS_PASSWORD_SEAL_KEYS variable).
func ParseKeys(text string) ([][]byte, error) {
	var out [][]byte
	for i, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("seal key %d: not base64: %w", i, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("seal: no key given")
	}
	return out, nil
}

// RandomKey makes a fresh key, for a single-process development stack.
func RandomKey() []byte {
	k := make([]byte, keyLen)
	if _, err := rand.Read(k); err != nil {
		panic(err) // the system's random source is gone: nothing secure can run
	}
	return k
}

// Seal encrypts plaintext bound to context (for example the command's id and the name key):
// the result opens only with the same context.
func (s *Sealer) Seal(plaintext, context []byte) []byte {
	k := s.keys[0]
	out := make([]byte, headerLen, headerLen+len(plaintext)+k.aead.Overhead())
	out[0] = version
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDLen : headerLen]
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return k.aead.Seal(out, nonce, plaintext, context)
}

// Open decrypts a sealed value with the context it was sealed with.
func (s *Sealer) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) < headerLen || sealed[0] != version {
		return nil, fmt.Errorf("%w: bad header", ErrOpen)
	}
	id := sealed[1 : 1+keyIDLen]
	for _, k := range s.keys {
		if !bytes.Equal(k.id[:], id) {
			continue
		}
		pt, err := k.aead.Open(nil, sealed[1+keyIDLen:headerLen], sealed[headerLen:], context)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOpen, err)
		}
		return pt, nil
	}
	return nil, fmt.Errorf("%w: sealed with a key this process does not have", ErrOpen)
}
