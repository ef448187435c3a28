package channeltest

import (
	"crypto/ed25519"
	"sync"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// SigningKey is the login side's key of the tests: one per test binary.
var SigningKey = sync.OnceValue(func() ed25519.PrivateKey {
	key, err := ticket.GenerateKey()
	if err != nil {
		panic(err)
	}
	return key
})

// Signer mints with SigningKey.
func Signer() *ticket.Signer { return ticket.NewSigner(SigningKey()) }

// VerifyKeys are the keys a test channel checks tickets with.
func VerifyKeys() []ed25519.PublicKey { return []ed25519.PublicKey{Signer().Public()} }

// Verifier checks tickets minted by Signer.
func Verifier(t testing.TB) *ticket.Verifier {
	t.Helper()
	v, err := ticket.NewVerifier(VerifyKeys(), ticket.VerifierOptions{})
	require.NoError(t, err)
	return v
}

// Ticket mints an entry ticket for (tenant, world, channel, account, character, session).
func Ticket(t testing.TB, tenant codecs.Tenant, world, channel uint8, account, character uint32, session uuid.UUID) string {
	t.Helper()
	tk, _, err := Signer().Mint(ticket.Grant{
		Tenant: ticket.TenantOf(tenant), WorldID: world, ChannelID: channel,
		AccountID: account, CharacterID: character, SessionID: session,
	})
	require.NoError(t, err)
	return tk
}
