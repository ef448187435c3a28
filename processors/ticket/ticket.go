// Package ticket mints and verifies channel entry tickets: short-lived, single-use JWTs signed
// with Ed25519 (alg EdDSA) that bind one login to one channel entry. The login side holds the
// private key and mints a ticket once a login succeeded and the account session is in
// transition toward a channel; a channel holds only public keys (a list, for rotation) and
// admits a WebSocket client only with a ticket for that channel. A login server in any
// language can mint them: README.md documents the header and claims.
//
// The format is a plain JWT (RFC 7519) so that any well-kept JWT library can produce it; this
// package uses github.com/golang-jwt/jwt/v5 with the algorithm pinned to EdDSA, so a ticket
// signed with anything else (none, HS256 with a public key as secret) is refused.
package ticket

import (
	"errors"
	"fmt"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Audience is the `aud` every entry ticket carries, so a token minted for something else by
// the same key is never an entry ticket.
const Audience = "atlas-channel"

// DefaultIssuer is the `iss` of tickets minted by a login server that names no other.
const DefaultIssuer = "atlas-login"

// Lifetimes. A ticket is meant to be used within seconds of the login; MaxLifetime bounds what
// a verifier accepts whatever the minter asked, so that the replay memory stays small.
const (
	DefaultLifetime = 60 * time.Second
	MaxLifetime     = 5 * time.Minute
	// Leeway is the clock skew tolerated between the login side and a channel.
	Leeway = 5 * time.Second
	// MaxTicketBytes bounds a ticket before anything of it is decoded.
	MaxTicketBytes = 2048
)

// Tenant is the tenant a ticket is for, as its claim.
type Tenant struct {
	ID           uuid.UUID `json:"id"`
	Region       string    `json:"region"`
	MajorVersion uint16    `json:"majorVersion"`
	MinorVersion uint16    `json:"minorVersion"`
}

// TenantOf gives the claim of a codecs tenant.
func TenantOf(t codecs.Tenant) Tenant {
	return Tenant{ID: t.ID, Region: t.Region, MajorVersion: t.Major, MinorVersion: t.Minor}
}

// Codecs gives the codecs tenant of the claim.
func (t Tenant) Codecs() codecs.Tenant {
	return codecs.Tenant{ID: t.ID, Region: t.Region, Major: t.MajorVersion, Minor: t.MinorVersion}
}

// Grant is what one ticket allows: this account's session enters this channel as this
// character. The login side fills it from the login it just checked.
type Grant struct {
	Tenant      Tenant    `json:"tenant"`
	WorldID     uint8     `json:"worldId"`
	ChannelID   uint8     `json:"channelId"`
	AccountID   uint32    `json:"accountId"`
	CharacterID uint32    `json:"characterId"`
	SessionID   uuid.UUID `json:"sessionId"`
}

// Claims are a ticket's payload: the registered claims (iss, aud, exp, nbf, iat, jti) and the
// grant.
type Claims struct {
	jwt.RegisteredClaims
	Grant
}

// Code is a stable reason for refusing a ticket; clients and dashboards may rely on it.
type Code string

// The codes, a closed set (Codes lists them).
const (
	Missing      Code = "TICKET_MISSING"       // no ticket given
	Invalid      Code = "TICKET_INVALID"       // not a well-formed entry ticket (format, algorithm, audience, claims, lifetime)
	BadSignature Code = "TICKET_BAD_SIGNATURE" // no configured key verifies it
	Expired      Code = "TICKET_EXPIRED"       // past its exp
	NotYetValid  Code = "TICKET_NOT_YET_VALID" // before its nbf or iat
	Replayed     Code = "TICKET_REPLAYED"      // its jti was already used
	WrongTenant  Code = "TICKET_WRONG_TENANT"  // minted for another tenant
	WrongWorld   Code = "TICKET_WRONG_WORLD"   // minted for another world
	WrongChannel Code = "TICKET_WRONG_CHANNEL" // minted for another channel
	Mismatch     Code = "TICKET_MISMATCH"      // the enter frame names other ids than the ticket
	Busy         Code = "TICKET_MEMORY_FULL"   // too many unexpired tickets were used: try again later
)

// Codes lists every code, for metrics that show each at 0 from the start.
func Codes() []Code {
	return []Code{Missing, Invalid, BadSignature, Expired, NotYetValid, Replayed, WrongTenant, WrongWorld, WrongChannel, Mismatch, Busy}
}

// Error is a refused ticket. Its text never quotes the ticket.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Reason }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of a refusal, or "" when err is not one.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
