package channel

import (
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
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("channel configuration: %w", err)
	}
	return c, c.Validate()
}

// Validate checks what the environment cannot get wrong alone: at least one channel, no
// channel twice.
func (c Config) Validate() error {
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
