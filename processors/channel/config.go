package channel

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/google/uuid"
)

// Listen is one channel id served by the instance and where its clients connect.
type Listen struct {
	Channel uint8
	Addr    string // host:port to listen on; port 0 picks a free port
}

// Config is one channel instance. README.md lists the environment variables.
type Config struct {
	// ServiceID names the instance; its consumer group is "Channel Service - {ServiceID}".
	ServiceID uuid.UUID
	Tenant    codecs.Tenant
	World     uint8
	Channels  []Listen
	// Host is the address clients are told (heartbeats, channel changes between this
	// instance's channels).
	Host              string
	HeartbeatInterval time.Duration
	// MaxCapacity bounds the sessions of each channel.
	MaxCapacity uint32
	// SendQueue is how many frames a client connection may have waiting.
	SendQueue int
	// Peers are other instances' channels of the world, for change_channel by id.
	Peers map[uint8]gateway.Address
	// OriginPatterns let browser pages of these origins connect.
	OriginPatterns []string
	// VerifyKeys check entry tickets (required: a channel admits players only with a ticket
	// from the login side). Several keys allow a rotation.
	VerifyKeys []ed25519.PublicKey
	// TransferKey, optional, mints the ticket a client changing channel presents to the next
	// channel; its public key must be among every channel's VerifyKeys. Without it a channel
	// change sends the client back to the login server for a new ticket.
	TransferKey ed25519.PrivateKey
	// Limits bound each client (connections, entry time, silence, frame rate and size).
	Limits gateway.Limits
}

// DefaultConfig has the defaults of every setting but the identity (service id, tenant).
func DefaultConfig() Config {
	return Config{
		Channels:          []Listen{{Channel: 0, Addr: ":7575"}},
		Host:              "127.0.0.1",
		HeartbeatInterval: 10 * time.Second,
		MaxCapacity:       1000,
		SendQueue:         256,
		Peers:             map[uint8]gateway.Address{},
		Limits:            gateway.DefaultLimits(),
	}
}

// ConfigFromEnv reads the configuration from the process environment.
func ConfigFromEnv() (Config, error) { return ParseConfig(os.Getenv) }

// ParseConfig reads the configuration through getenv, reporting every bad variable at once.
func ParseConfig(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	bad := func(name, v, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, v, want))
	}
	if v := getenv("SERVICE_ID"); v == "" {
		errs = append(errs, errors.New("SERVICE_ID is not set: give the instance a uuid"))
	} else if id, err := uuid.Parse(v); err != nil || id == uuid.Nil {
		bad("SERVICE_ID", v, "want a uuid other than the nil uuid")
	} else {
		c.ServiceID = id
	}
	if getenv("CHANNEL_TENANT_ID") == "" {
		errs = append(errs, errors.New("CHANNEL_TENANT_ID is not set: give the tenant's uuid"))
	} else if t, err := codecs.TenantFromText(tenantVars(getenv)); err != nil {
		errs = append(errs, fmt.Errorf("CHANNEL_TENANT_ID, CHANNEL_REGION, CHANNEL_MAJOR_VERSION, CHANNEL_MINOR_VERSION: %v", err))
	} else {
		c.Tenant = t
	}
	if v := getenv("CHANNEL_WORLD_ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			bad("CHANNEL_WORLD_ID", v, "want a world id from 0 to 255")
		}
		c.World = uint8(n)
	}
	if v := getenv("CHANNEL_CHANNELS"); v != "" {
		ls, err := parseChannels(v, getenv("CHANNEL_LISTEN_HOST"))
		if err != nil {
			bad("CHANNEL_CHANNELS", v, err.Error())
		}
		c.Channels = ls
	}
	if v := getenv("CHANNEL_HOST"); v != "" {
		c.Host = v
	}
	if v := getenv("CHANNEL_HEARTBEAT_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("CHANNEL_HEARTBEAT_INTERVAL", v, "want a positive duration such as 10s")
		}
		c.HeartbeatInterval = d
	}
	if v := getenv("CHANNEL_MAX_CAPACITY"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			bad("CHANNEL_MAX_CAPACITY", v, "want a whole number of at least 1")
		}
		c.MaxCapacity = uint32(n)
	}
	if v := getenv("CHANNEL_SEND_QUEUE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("CHANNEL_SEND_QUEUE", v, "want a whole number of at least 1")
		}
		c.SendQueue = n
	}
	if v := getenv("CHANNEL_PEERS"); v != "" {
		p, err := parsePeers(v)
		if err != nil {
			bad("CHANNEL_PEERS", v, err.Error())
		}
		c.Peers = p
	}
	if v := getenv("CHANNEL_ORIGINS"); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.OriginPatterns = append(c.OriginPatterns, o)
			}
		}
	}
	if text, err := runtime.SecretFromEnv(getenv, "CHANNEL_TICKET_VERIFY_KEYS"); err != nil {
		errs = append(errs, err)
	} else if text != "" {
		keys, err := ticket.ParsePublicKeys(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("CHANNEL_TICKET_VERIFY_KEYS: %v", err))
		}
		c.VerifyKeys = keys
	}
	if text, err := runtime.SecretFromEnv(getenv, "CHANNEL_TRANSFER_KEY"); err != nil {
		errs = append(errs, err)
	} else if text != "" {
		key, err := ticket.ParsePrivateKey(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("CHANNEL_TRANSFER_KEY: %v", err))
		}
		c.TransferKey = key
	}
	errs = append(errs, parseLimits(getenv, &c.Limits)...)
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("channel configuration: %w", err)
	}
	return c, c.validateSettings()
}

// parseLimits reads the CHANNEL_* limit variables into l.
func parseLimits(getenv func(string) string, l *gateway.Limits) []error {
	var errs []error
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"CHANNEL_ENTER_TIMEOUT", &l.EnterTimeout},
		{"CHANNEL_PING_INTERVAL", &l.PingInterval},
		{"CHANNEL_PONG_TIMEOUT", &l.PongTimeout},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			got, err := time.ParseDuration(v)
			if err != nil || got <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 10s", d.name, v))
			}
			*d.dst = got
		}
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"CHANNEL_MAX_CONNECTIONS", &l.MaxConnections},
		{"CHANNEL_FRAME_BURST", &l.FrameBurst},
		{"CHANNEL_STRIKE_BURST", &l.StrikeBurst},
		{"CHANNEL_MAX_FRAME_BYTES", &l.MaxFrameBytes},
	}
	for _, n := range ints {
		if v := getenv(n.name); v != "" {
			got, err := strconv.Atoi(v)
			if err != nil || got < 1 {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number of at least 1", n.name, v))
			}
			*n.dst = got
		}
	}
	if v := getenv("CHANNEL_FRAME_RATE"); v != "" {
		got, err := strconv.ParseFloat(v, 64)
		if err != nil || got <= 0 {
			errs = append(errs, fmt.Errorf("CHANNEL_FRAME_RATE=%q: want frames per second above 0", v))
		}
		l.FrameRate = got
	}
	if err := l.Validate(); err != nil && len(errs) == 0 {
		errs = append(errs, err)
	}
	return errs
}

// Validate checks a configuration before a channel starts: its settings, and verify keys,
// without which it would admit anyone.
func (c Config) Validate() error {
	if len(c.VerifyKeys) == 0 {
		return errors.New("channel configuration: no ticket verify key; set CHANNEL_TICKET_VERIFY_KEYS " +
			"(the login side's public keys) so that only players with an entry ticket get in")
	}
	return c.validateSettings()
}

// validateSettings checks what the environment cannot get wrong alone: at least one channel,
// no channel twice, limits.
func (c Config) validateSettings() error {
	if len(c.Channels) == 0 {
		return errors.New("channel configuration: no channel to serve")
	}
	seen := map[uint8]bool{}
	for _, l := range c.Channels {
		if seen[l.Channel] {
			return fmt.Errorf("channel configuration: channel %d listed twice", l.Channel)
		}
		seen[l.Channel] = true
	}
	if c.HeartbeatInterval <= 0 {
		return errors.New("channel configuration: heartbeat interval must be positive")
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("channel configuration: %w", err)
	}
	return nil
}

// tenantVars reads the tenant's four values from their variables, as TenantFromText asks for
// them by header name; region and versions default to GMS 83.1.
func tenantVars(getenv func(string) string) func(string) string {
	vars := map[string][2]string{
		codecs.HeaderTenantID:     {"CHANNEL_TENANT_ID", ""},
		codecs.HeaderRegion:       {"CHANNEL_REGION", "GMS"},
		codecs.HeaderMajorVersion: {"CHANNEL_MAJOR_VERSION", "83"},
		codecs.HeaderMinorVersion: {"CHANNEL_MINOR_VERSION", "1"},
	}
	return func(header string) string {
		v := vars[header]
		if got := getenv(v[0]); got != "" {
			return got
		}
		return v[1]
	}
}

// parseChannels reads "1:7575,2:7576" (channel id:port), listening on host (all interfaces
// when empty).
func parseChannels(v, host string) ([]Listen, error) {
	var out []Listen
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		idText, portText, ok := strings.Cut(item, ":")
		id, err1 := strconv.ParseUint(strings.TrimSpace(idText), 10, 8)
		port, err2 := strconv.ParseUint(strings.TrimSpace(portText), 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: want channel:port, channel from 0 to 255", item)
		}
		out = append(out, Listen{Channel: uint8(id), Addr: net.JoinHostPort(host, strconv.Itoa(int(port)))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out, nil
}

// parsePeers reads "3=10.0.0.5:7575,4=10.0.0.5:7576".
func parsePeers(v string) (map[uint8]gateway.Address, error) {
	out := map[uint8]gateway.Address{}
	err := eachPair(v, func(id uint8, addr string) error {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("channel %d: %v", id, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 || host == "" {
			return fmt.Errorf("channel %d: want host:port", id)
		}
		out[id] = gateway.Address{Host: host, Port: uint16(p)}
		return nil
	})
	return out, err
}

// eachPair calls fn for every "channel=address" item of a comma-separated list.
func eachPair(v string, fn func(id uint8, addr string) error) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		idText, addr, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("%q: want channel=host:port", item)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(idText), 10, 8)
		if err != nil {
			return fmt.Errorf("%q: channel id from 0 to 255", item)
		}
		if err := fn(uint8(id), strings.TrimSpace(addr)); err != nil {
			return err
		}
	}
	return nil
}
