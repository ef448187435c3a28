package ticket

import (
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Signer mints tickets. It is the login side's: the private key never goes to a channel.
type Signer struct {
	key ed25519.PrivateKey
	kid string
	// Issuer is the `iss` written (DefaultIssuer if empty).
	Issuer string
	// Lifetime is how long a ticket is valid (DefaultLifetime if 0; at most MaxLifetime).
	Lifetime time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// NewSigner mints with key; the `kid` header is the key's thumbprint (KeyID).
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, kid: KeyID(key.Public().(ed25519.PublicKey))}
}

// Public is the verify key channels need.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Mint signs a ticket for g, with a fresh `jti`. It refuses a grant that names no session,
// account or character, or a lifetime a verifier would refuse.
func (s *Signer) Mint(g Grant) (string, Claims, error) {
	switch {
	case g.SessionID == uuid.Nil || g.AccountID == 0 || g.CharacterID == 0:
		return "", Claims{}, errors.New("ticket: a grant needs a session id, an account id and a character id")
	case g.Tenant.ID == uuid.Nil:
		return "", Claims{}, errors.New("ticket: a grant needs a tenant")
	}
	life := s.Lifetime
	if life == 0 {
		life = DefaultLifetime
	}
	if life < 0 || life > MaxLifetime {
		return "", Claims{}, errors.New("ticket: lifetime must be positive and at most MaxLifetime")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	iss := s.Issuer
	if iss == "" {
		iss = DefaultIssuer
	}
	t := now().Truncate(time.Second) // NumericDate has whole seconds
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(t.Add(life)),
			NotBefore: jwt.NewNumericDate(t),
			IssuedAt:  jwt.NewNumericDate(t),
			ID:        uuid.NewString(),
		},
		Grant: g,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", Claims{}, err
	}
	return signed, c, nil
}
