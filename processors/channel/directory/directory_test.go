package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func record(t codecs.Tenant, topic string, at time.Time, value string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Value: []byte(value), Timestamp: at}
	for k, v := range t.Headers() {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	return r
}

func heartbeat(world, channel uint8, current uint32, typ string) string {
	return fmt.Sprintf(`{"worldId":%d,"channelId":%d,"ipAddress":"10.0.0.1","port":7575,"currentCapacity":%d,"maxCapacity":100,"type":%q}`,
		world, channel, current, typ)
}

func TestAnnouncementsOfBothErasKeepChannelsUpUntilShutdownOrSilence(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	d := New(30 * time.Second)
	d.now = func() time.Time { return now }
	tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
	other := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
	seed, current := string(atlas.CommandTopicChannelStatus), string(atlas.EventTopicChannelStatus)

	d.Observe(record(tenant, seed, now, heartbeat(0, 1, 3, "HEARTBEAT")))
	d.Observe(record(tenant, current, now, heartbeat(0, 2, 0, "STARTED")))
	d.Observe(record(tenant, seed, now, `{"type":"STATUS_REQUEST"}`))
	d.Observe(record(other, seed, now, heartbeat(0, 1, 9, "HEARTBEAT")))
	d.Observe(record(tenant, seed, now, `{"worldId":`)) // not decodable: ignored
	d.Observe(&kgo.Record{Topic: seed, Value: []byte(heartbeat(0, 5, 0, "HEARTBEAT")), Timestamp: now})

	got := d.Channels(tenant)
	require.Len(t, got, 2, "each tenant sees its own channels only; a record without tenant counts for none")
	require.Equal(t, Channel{World: 0, Channel: 1, Address: "10.0.0.1:7575", Current: 3, Max: 100, LastSeen: now}, got[0])
	start := now
	require.Equal(t, uint8(2), got[1].Channel)
	require.Len(t, d.Channels(other), 1)

	// A newer heartbeat updates the count; an older one read late does not undo it.
	base := now
	now = now.Add(10 * time.Second) // every record below is from the past
	d.Observe(record(tenant, seed, base.Add(time.Second), heartbeat(0, 1, 4, "HEARTBEAT")))
	d.Observe(record(tenant, seed, base.Add(-time.Second), heartbeat(0, 1, 1, "HEARTBEAT")))
	require.Equal(t, uint32(4), d.Channels(tenant)[0].Current)

	d.Observe(record(tenant, current, base.Add(2*time.Second), heartbeat(0, 2, 0, "SHUTDOWN")))
	require.Len(t, d.Channels(tenant), 1, "a SHUTDOWN takes the channel out")
	d.Observe(record(tenant, seed, base.Add(time.Second), heartbeat(0, 2, 0, "HEARTBEAT")))
	require.Len(t, d.Channels(tenant), 1, "a heartbeat older than the SHUTDOWN, read after it, does not bring it back")
	d.Observe(record(tenant, seed, base.Add(3*time.Second), heartbeat(0, 2, 0, "HEARTBEAT")))
	require.Len(t, d.Channels(tenant), 2, "a newer one does: the channel restarted")
	d.Observe(record(tenant, current, base.Add(4*time.Second), heartbeat(0, 2, 0, "SHUTDOWN")))

	now = start.Add(36 * time.Second)
	require.Empty(t, d.Channels(tenant), "a channel silent for longer than the time to live is down")
}

func TestMadeUpChannelsCannotGrowTheDirectoryPastItsBound(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	d := New(time.Minute)
	d.now = func() time.Time { return now }
	for i := range MaxChannels + 50 {
		tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
		d.Observe(record(tenant, string(atlas.CommandTopicChannelStatus), now.Add(time.Hour), heartbeat(uint8(i), 1, 0, "HEARTBEAT")))
	}
	require.Len(t, d.channels, MaxChannels)
	for _, c := range d.channels {
		require.Equal(t, now, c.entry.LastSeen, "a timestamp from the future counts as now")
	}
	// Once the flood has expired, real channels have room again.
	now = now.Add(2 * time.Minute)
	tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
	d.Observe(record(tenant, string(atlas.CommandTopicChannelStatus), now, heartbeat(1, 1, 0, "HEARTBEAT")))
	require.Len(t, d.Channels(tenant), 1)
}
