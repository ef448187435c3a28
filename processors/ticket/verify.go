package ticket

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Expect is what a channel admits: its tenant, world and channel, and the ids an enter frame
// named (0 or the nil uuid: not named).
type Expect struct {
	Tenant      Tenant
	WorldID     uint8
	ChannelID   uint8
	SessionID   uuid.UUID
	AccountID   uint32
	CharacterID uint32
}

// Verifier checks tickets against a list of verify keys and remembers the ones used. It is
// safe for concurrent use.
type Verifier struct {
	keys   map[string]ed25519.PublicKey // by KeyID
	all    jwt.VerificationKeySet
	parser *jwt.Parser
	now    func() time.Time
	used   *replayMemory
}

// VerifierOptions tune a Verifier; the zero value is the defaults.
type VerifierOptions struct {
	// ReplayCapacity bounds the remembered ticket ids (DefaultReplayCapacity if 0).
	ReplayCapacity int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// NewVerifier checks with keys (at least one). Any of them verifies a ticket: a rotation adds
// the new key to every channel first, then moves the login side to it, then drops the old one.
func NewVerifier(keys []ed25519.PublicKey, o VerifierOptions) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("ticket: no verify key")
	}
	v := &Verifier{keys: map[string]ed25519.PublicKey{}, now: o.Now, used: newReplayMemory(o.ReplayCapacity)}
	if v.now == nil {
		v.now = time.Now
	}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("ticket: a verify key is not 32 bytes")
		}
		v.keys[KeyID(k)] = k
		v.all.Keys = append(v.all.Keys, k)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v, nil
}

// Verify checks a ticket for an entry that expects e and, if every check passes, records it as
// used: the same ticket is refused from then on, until it expires. Checks, in order: size and
// format, algorithm, signature (the `kid` header picks the key; without one every key is
// tried), exp/nbf/iat with Leeway, audience, lifetime, claims present, then tenant, world,
// channel and the frame's ids, and last the replay memory. A refusal is an *Error with a Code.
func (v *Verifier) Verify(token string, e Expect) (Claims, error) {
	var c Claims
	if token == "" {
		return c, refuse(Missing, "enter needs a ticket from the login server")
	}
	if len(token) > MaxTicketBytes {
		return c, refuse(Invalid, "ticket is longer than %d bytes", MaxTicketBytes)
	}
	if _, err := v.parser.ParseWithClaims(token, &c, v.key); err != nil {
		return Claims{}, classify(err)
	}
	if err := v.checkClaims(c, e); err != nil {
		return Claims{}, err
	}
	// Remembered until it can no longer pass the expiry check.
	if err := v.used.use(c.ID, c.ExpiresAt.Add(Leeway), v.now()); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// Release forgets that c was used, for an entry the channel could not make (full, starting):
// the player may try again with the same ticket while it is valid.
func (v *Verifier) Release(c Claims) { v.used.release(c.ID) }

// Remembered is how many used ticket ids are held (a metric).
func (v *Verifier) Remembered() int { return v.used.size() }

func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, has := t.Header["kid"]
	if !has {
		return v.all, nil
	}
	s, ok := kid.(string)
	if !ok {
		return nil, errors.New("kid is not a string")
	}
	k, ok := v.keys[s]
	if !ok {
		return nil, errUnknownKey
	}
	return k, nil
}

var errUnknownKey = errors.New("no verify key has this kid")

func classify(err error) *Error {
	switch {
	case errors.Is(err, errUnknownKey):
		return refuse(BadSignature, "ticket is signed with a key this channel does not know")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(Invalid, "ticket is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse(BadSignature, "ticket signature does not verify (EdDSA only)")
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(Expired, "ticket has expired: log in again")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(NotYetValid, "ticket is not valid yet (check the login server's clock)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(Invalid, "ticket is not an entry ticket (aud must be %q)", Audience)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse(Invalid, "ticket lacks exp or iat")
	}
	return refuse(Invalid, "ticket claims are invalid")
}

func (v *Verifier) checkClaims(c Claims, e Expect) *Error {
	switch {
	case c.ID == "" || len(c.ID) > 128:
		return refuse(Invalid, "ticket needs a jti of at most 128 bytes")
	case c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxLifetime:
		return refuse(Invalid, "ticket lifetime exceeds %s", MaxLifetime)
	case c.SessionID == uuid.Nil || c.AccountID == 0 || c.CharacterID == 0:
		return refuse(Invalid, "ticket lacks sessionId, accountId or characterId")
	case c.Tenant != e.Tenant:
		return refuse(WrongTenant, "ticket is for another tenant")
	case c.WorldID != e.WorldID:
		return refuse(WrongWorld, "ticket is for world %d, this is world %d", c.WorldID, e.WorldID)
	case c.ChannelID != e.ChannelID:
		return refuse(WrongChannel, "ticket is for channel %d, this is channel %d", c.ChannelID, e.ChannelID)
	}
	var differ []string
	if e.SessionID != uuid.Nil && e.SessionID != c.SessionID {
		differ = append(differ, "sessionId")
	}
	if e.AccountID != 0 && e.AccountID != c.AccountID {
		differ = append(differ, "accountId")
	}
	if e.CharacterID != 0 && e.CharacterID != c.CharacterID {
		differ = append(differ, "characterId")
	}
	if len(differ) > 0 {
		return refuse(Mismatch, "%v of the frame differ from the ticket's (leave them out or give the ticket's)", differ)
	}
	return nil
}

// String describes a grant for logs: ids only, never the ticket.
func (g Grant) String() string {
	return fmt.Sprintf("tenant %s world %d channel %d account %d character %d session %s",
		g.Tenant.ID, g.WorldID, g.ChannelID, g.AccountID, g.CharacterID, g.SessionID)
}
