// Package directory knows which game channels are up, from the status every channel instance
// announces (package heartbeat): a HEARTBEAT or STARTED puts a channel in, or refreshes it,
// with its address and how full it is; a SHUTDOWN takes it out; a channel that stops
// announcing drops out after a time to live. Both contract eras' status topics are read.
// The query API serves it to the console.
package directory

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Channel is one channel that is up.
type Channel struct {
	World    uint8     `json:"world"`
	Channel  uint8     `json:"channel"`
	Address  string    `json:"address"` // host:port that clients connect to
	Current  uint32    `json:"current"` // sessions on it
	Max      uint32    `json:"max"`
	LastSeen time.Time `json:"lastSeen"`
}

// MaxChannels bounds the channels remembered over every tenant: the status topics are
// written by whoever may write to Kafka, and a flood of made-up channels must not grow the
// process. Beyond it, a new channel is left out until old ones expire.
const MaxChannels = 4096

// maxAddress bounds an announced host's length (a DNS name is at most 253).
const maxAddress = 253

type key struct {
	tenant         string
	world, channel uint8
}

// Directory is the channels up, by tenant.
type Directory struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	channels map[key]state
}

// state is a channel's last announcement and whether it said up.
type state struct {
	entry Channel
	up    bool
}

// New is an empty directory whose channels expire ttl after their last announcement.
func New(ttl time.Duration) *Directory {
	return &Directory{ttl: ttl, now: time.Now, channels: map[key]state{}}
}

// Observe applies one record of a status topic; anything else than a channel's announcement
// (a status request, a record without tenant or that does not decode) is ignored: this is a
// reader beside the channels, not their consumer, so it has nothing to dead-letter.
func (d *Directory) Observe(r *kgo.Record) {
	tenant, err := codecs.TenantFromHeaders(topicread.HeaderMap(r.Headers))
	if err != nil {
		return
	}
	var (
		c  Channel
		up bool
	)
	switch r.Topic {
	case string(atlas.CommandTopicChannelStatus):
		m, err := codecs.DecodeChannelStatusCommand(r.Value)
		if err != nil || m.Type == codecs.ChannelStatusCommandTypeStatusRequest {
			return
		}
		c = Channel{World: m.WorldID, Channel: m.ChannelID, Address: address(m.IPAddress, m.Port), Current: m.CurrentCapacity, Max: m.MaxCapacity}
		up = m.Type == codecs.ChannelStatusCommandTypeHeartbeat
	case string(atlas.EventTopicChannelStatus):
		m, err := codecs.DecodeChannelStatusEvent(r.Value)
		if err != nil {
			return
		}
		c = Channel{World: m.WorldID, Channel: m.ChannelID, Address: address(m.IPAddress, m.Port), Current: m.CurrentCapacity, Max: m.MaxCapacity}
		up = m.Type == codecs.ChannelStatusEventTypeStarted
	default:
		return
	}
	// A timestamp from the future (a producer's clock, or a forged one) would keep the
	// channel up forever: it counts as now.
	c.LastSeen = r.Timestamp
	if now := d.now(); c.LastSeen.After(now) {
		c.LastSeen = now
	}
	d.apply(key{tenant.String(), c.World, c.Channel}, c, up)
}

func address(host string, port uint16) string {
	if len(host) > maxAddress {
		host = host[:maxAddress]
	}
	return host + ":" + strconv.Itoa(int(port))
}

// apply records an announcement. A SHUTDOWN stays as a tombstone (down) until it expires,
// so that an older heartbeat read after it (from the other era's topic, or replayed at start)
// cannot bring the channel back.
func (d *Directory) apply(k key, c Channel, up bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, known := d.channels[k]
	switch {
	case known && c.LastSeen.Before(old.entry.LastSeen):
		// An older announcement read after a newer one: not news.
	case known || len(d.channels) < MaxChannels || d.pruneLocked():
		d.channels[k] = state{entry: c, up: up}
	}
}

// pruneLocked forgets expired channels and reports whether there is room for one more.
func (d *Directory) pruneLocked() bool {
	cutoff := d.now().Add(-d.ttl)
	for k, c := range d.channels {
		if c.entry.LastSeen.Before(cutoff) {
			delete(d.channels, k)
		}
	}
	return len(d.channels) < MaxChannels
}

// Channels are the tenant's channels up now, by world and channel.
func (d *Directory) Channels(t codecs.Tenant) []Channel {
	tenant := t.String()
	cutoff := d.now().Add(-d.ttl)
	d.mu.Lock()
	var out []Channel
	for k, c := range d.channels {
		if k.tenant == tenant && c.up && !c.entry.LastSeen.Before(cutoff) {
			out = append(out, c.entry)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b Channel) int {
		if a.World != b.World {
			return int(a.World) - int(b.World)
		}
		return int(a.Channel) - int(b.Channel)
	})
	return out
}

// Start reads both status topics from ttl ago (so channels that are up show at once) and
// keeps the directory until ctx ends. It reads partitions directly, outside any group: every
// API instance needs every announcement.
func Start(ctx context.Context, o runtime.Options, ttl time.Duration) (*Directory, error) {
	d := New(ttl)
	cl, err := kgo.NewClient(append(o.KafkaClientOpts(),
		kgo.ConsumeTopics(string(atlas.CommandTopicChannelStatus), string(atlas.EventTopicChannelStatus)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(time.Now().Add(-ttl).UnixMilli())),
	)...)
	if err != nil {
		return nil, err
	}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(topic string, p int32, err error) {
				if ctx.Err() == nil {
					logrus.WithError(err).WithField("topic", topic).Debug("channel directory: fetch failed; retrying")
				}
			})
			fs.EachRecord(d.Observe)
		}
	}()
	return d, nil
}
