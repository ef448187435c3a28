package channel

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(env(map[string]string{
		"SERVICE_ID":                 "5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
		"CHANNEL_TENANT_ID":          "11111111-2222-4333-8444-555555555555",
		"CHANNEL_REGION":             "JMS",
		"CHANNEL_MAJOR_VERSION":      "185",
		"CHANNEL_MINOR_VERSION":      "1",
		"CHANNEL_WORLD_ID":           "2",
		"CHANNEL_CHANNELS":           "2:7576, 1:7575",
		"CHANNEL_LISTEN_HOST":        "0.0.0.0",
		"CHANNEL_HOST":               "10.0.0.5",
		"CHANNEL_HEARTBEAT_INTERVAL": "3s",
		"CHANNEL_MAX_CAPACITY":       "50",
		"CHANNEL_PEERS":              "3=10.0.0.6:7575",
		"CHANNEL_ORIGINS":            "example.com, game.example.com",
	}))
	require.NoError(t, err)
	require.Equal(t, "5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b", c.ServiceID.String())
	require.Equal(t, "11111111-2222-4333-8444-555555555555", c.Tenant.ID.String())
	require.Equal(t, "JMS", c.Tenant.Region)
	require.Equal(t, uint16(185), c.Tenant.Major)
	require.Equal(t, uint8(2), c.World)
	require.Equal(t, []Listen{{1, "0.0.0.0:7575"}, {2, "0.0.0.0:7576"}}, c.Channels)
	require.Equal(t, "10.0.0.5", c.Host)
	require.Equal(t, 3*time.Second, c.HeartbeatInterval)
	require.Equal(t, uint32(50), c.MaxCapacity)
	require.Equal(t, map[uint8]gateway.Address{3: {Host: "10.0.0.6", Port: 7575}}, c.Peers)
	require.Equal(t, []string{"example.com", "game.example.com"}, c.OriginPatterns)
}

func TestParseConfigReportsEveryBadVariable(t *testing.T) {
	_, err := ParseConfig(env(map[string]string{
		"CHANNEL_TENANT_ID":          "nope",
		"CHANNEL_WORLD_ID":           "300",
		"CHANNEL_CHANNELS":           "1=7575",
		"CHANNEL_HEARTBEAT_INTERVAL": "-1s",
		"CHANNEL_PEERS":              "3=nowhere",
	}))
	require.Error(t, err)
	for _, name := range []string{"SERVICE_ID", "CHANNEL_TENANT_ID", "CHANNEL_WORLD_ID", "CHANNEL_CHANNELS", "CHANNEL_HEARTBEAT_INTERVAL", "CHANNEL_PEERS"} {
		require.Contains(t, err.Error(), name)
	}
	_, err = ParseConfig(env(map[string]string{
		"SERVICE_ID": "5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "CHANNEL_TENANT_ID": "11111111-2222-4333-8444-555555555555",
		"CHANNEL_CHANNELS": "1:1,1:2",
	}))
	require.ErrorContains(t, err, "listed twice")
}

func TestDefaults(t *testing.T) {
	c, err := ParseConfig(env(map[string]string{
		"SERVICE_ID": "5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "CHANNEL_TENANT_ID": "11111111-2222-4333-8444-555555555555",
	}))
	require.NoError(t, err)
	require.Equal(t, "GMS", c.Tenant.Region)
	require.Equal(t, uint16(83), c.Tenant.Major)
	require.Equal(t, 10*time.Second, c.HeartbeatInterval)
	require.Equal(t, uint32(1000), c.MaxCapacity)
	require.Equal(t, []Listen{{0, ":7575"}}, c.Channels)
}

// Ticket keys and limits come from the environment; a channel without verify keys does not
// start (Validate), and a secret's value never appears in an error.
func TestTicketKeysAndLimits(t *testing.T) {
	priv, err := ticket.GenerateKey()
	require.NoError(t, err)
	pub := ticket.PublicKeyBase64(priv.Public().(ed25519.PublicKey))
	keyFile := filepath.Join(t.TempDir(), "transfer.pem")
	require.NoError(t, os.WriteFile(keyFile, ticket.PrivateKeyPEM(priv), 0o600))
	base := map[string]string{
		"SERVICE_ID": "5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "CHANNEL_TENANT_ID": "11111111-2222-4333-8444-555555555555",
	}
	c, err := ParseConfig(env(base))
	require.NoError(t, err)
	require.ErrorContains(t, c.Validate(), "CHANNEL_TICKET_VERIFY_KEYS", "no verify keys: the channel refuses to start")
	require.Equal(t, gateway.DefaultLimits(), c.Limits)

	with := map[string]string{
		"CHANNEL_TICKET_VERIFY_KEYS": pub, "CHANNEL_TRANSFER_KEY_FILE": keyFile,
		"CHANNEL_MAX_CONNECTIONS": "500", "CHANNEL_ENTER_TIMEOUT": "5s", "CHANNEL_PING_INTERVAL": "30s",
		"CHANNEL_PONG_TIMEOUT": "5s", "CHANNEL_FRAME_RATE": "12.5", "CHANNEL_FRAME_BURST": "25",
	}
	for k, v := range base {
		with[k] = v
	}
	c, err = ParseConfig(env(with))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, c.VerifyKeys)
	require.True(t, priv.Equal(c.TransferKey))
	require.Equal(t, 500, c.Limits.MaxConnections)
	require.Equal(t, 5*time.Second, c.Limits.EnterTimeout)
	require.Equal(t, 12.5, c.Limits.FrameRate)

	with["CHANNEL_ENTER_TIMEOUT"] = "1m"
	with["CHANNEL_TRANSFER_KEY"] = "c2VjcmV0LXZhbHVlLW5vdC1hLWtleQ=="
	_, err = ParseConfig(env(with))
	require.ErrorContains(t, err, "enter timeout")
	require.ErrorContains(t, err, "CHANNEL_TRANSFER_KEY and CHANNEL_TRANSFER_KEY_FILE are both set")
	require.NotContains(t, err.Error(), "c2VjcmV0", "errors never quote a key")
}
