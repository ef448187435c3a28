package ticket

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyID is the `kid` of a verify key: its RFC 7638 JWK thumbprint (SHA-256, base64url). A
// minter sets it in the header; a verifier that holds several keys (rotation) picks the key by
// it. Any party can compute it from the public key alone, so no key names are configured.
func KeyID(pub ed25519.PublicKey) string {
	// The thumbprint input is the JWK's required members in lexicographic order, no spaces.
	jwk, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}{"Ed25519", "OKP", base64.RawURLEncoding.EncodeToString(pub)})
	sum := sha256.Sum256(jwk)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// GenerateKey makes a new signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

// ParsePrivateKey reads a signing key: a PEM "PRIVATE KEY" block (PKCS #8, as `openssl genpkey
// -algorithm ed25519` writes), or base64 of the 32-byte seed or the 64-byte private key.
// Errors never quote the input.
func ParsePrivateKey(text string) (ed25519.PrivateKey, error) {
	text = strings.TrimSpace(text)
	if strings.Contains(text, "-----BEGIN") {
		block, _ := pem.Decode([]byte(text))
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, errors.New("signing key: want a PEM PRIVATE KEY block (PKCS #8)")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("signing key: the PEM block is not a PKCS #8 key")
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key: a %T, want an Ed25519 key", k)
		}
		return priv, nil
	}
	raw, err := decodeBase64(text)
	if err != nil {
		return nil, errors.New("signing key: neither PEM nor base64")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		// The second half is the public key; a key whose halves disagree would sign
		// tickets no channel verifies.
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !priv.Equal(ed25519.PrivateKey(raw)) {
			return nil, errors.New("signing key: the 64 bytes are not a consistent Ed25519 key")
		}
		return priv, nil
	}
	return nil, fmt.Errorf("signing key: %d bytes, want a 32-byte seed or a 64-byte key", len(raw))
}

// ParsePublicKeys reads a list of verify keys: PEM "PUBLIC KEY" blocks (PKIX) and base64 of raw
// 32-byte keys, separated by commas or white space, in any mix. An empty text is no key.
func ParsePublicKeys(text string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	rest := text
	for rest != "" {
		before, after, hasPEM := strings.Cut(rest, "-----BEGIN")
		for _, item := range strings.FieldsFunc(before, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			raw, err := decodeBase64(item)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("verify key %d: want base64 of a 32-byte Ed25519 public key, or a PEM PUBLIC KEY block", len(keys)+1)
			}
			keys = append(keys, ed25519.PublicKey(raw))
		}
		if !hasPEM {
			break
		}
		block, tail := pem.Decode([]byte("-----BEGIN" + after))
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("verify key %d: want a PEM PUBLIC KEY block", len(keys)+1)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("verify key %d: the PEM block is not a PKIX public key", len(keys)+1)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("verify key %d: a %T, want an Ed25519 key", len(keys)+1, k)
		}
		keys = append(keys, pub)
		rest = string(tail)
	}
	return keys, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// PrivateKeyPEM encodes a signing key as a PEM PRIVATE KEY block (PKCS #8).
func PrivateKeyPEM(priv ed25519.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(fmt.Sprintf("ticket: an Ed25519 key always marshals: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PublicKeyPEM encodes a verify key as a PEM PUBLIC KEY block (PKIX).
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("ticket: an Ed25519 key always marshals: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PublicKeyBase64 is a verify key in the raw base64 form ParsePublicKeys reads.
func PublicKeyBase64(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// LoadOrCreateKeyFile reads the signing key stored at path, or, when there is none, makes one
// and stores it there (PEM, mode 0600, its folder 0700). created says which happened. It is
// for development stacks, whose login and channel share one machine.
func LoadOrCreateKeyFile(path string) (priv ed25519.PrivateKey, created bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		priv, err := ParsePrivateKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return priv, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if priv, err = GenerateKey(); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// Written whole to a temporary file, then linked into place: two processes starting at
	// once never see a half-written key, and the second one reads the first one's.
	f, err := os.CreateTemp(filepath.Dir(path), ".ticket-key-*")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(PrivateKeyPEM(priv))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, false, werr
	}
	if err := os.Link(f.Name(), path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(path)
	} else if err != nil {
		return nil, false, err
	}
	return priv, true, nil
}
