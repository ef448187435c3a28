package heartbeat_test

import (
	"context"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/heartbeat"
	"github.com/stretchr/testify/require"
)

func TestHeartbeatsThenShutdown(t *testing.T) {
	emit := &channeltest.Emitter{}
	cfg := heartbeat.Config{
		World: 3, Interval: 5 * time.Millisecond, MaxCapacity: 100,
		Channels: []heartbeat.Channel{{ID: 1, Host: "10.0.0.5", Port: 7575}, {ID: 2, Host: "10.0.0.5", Port: 7576}},
		Current:  func(ch uint8) uint32 { return uint32(ch) * 10 },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); heartbeat.Run(ctx, cfg, emit) }()
	require.Eventually(t, func() bool { return emit.Len() >= 4 }, 10*time.Second, time.Millisecond, "a heartbeat per channel at start and at every interval")
	cancel()
	<-done
	for _, r := range emit.Take() {
		require.Equal(t, "COMMAND_TOPIC_CHANNEL_STATUS HEARTBEAT", r.Catalog+" "+r.Type)
	}
	heartbeat.Shutdown(cfg, emit)
	recs := emit.Take()
	require.Len(t, recs, 2)
	require.Equal(t, `{"worldId":3,"channelId":2,"ipAddress":"10.0.0.5","port":7576,"currentCapacity":20,"maxCapacity":100,"type":"SHUTDOWN"}`, string(recs[1].Value))
	require.Equal(t, channeltest.Tenant.ID.String(), recs[1].Key)
	_, err := codecs.DecodeChannelStatusCommand(recs[0].Value)
	require.NoError(t, err)
}

// In the current contracts the channels register where current upstream's world service
// reads them, and nothing is written on the command topic (current channels would take it
// for a status request and re-register).
func TestCurrentEraAnnouncesOnTheEventTopic(t *testing.T) {
	emit := &channeltest.Emitter{Era: codecs.EraCurrent}
	cfg := heartbeat.Config{
		World: 0, Interval: time.Hour, MaxCapacity: 1000, Era: codecs.EraCurrent,
		Channels: []heartbeat.Channel{{ID: 1, Host: "10.0.0.5", Port: 7576}},
		Current:  func(uint8) uint32 { return 12 },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); heartbeat.Run(ctx, cfg, emit) }()
	require.Eventually(t, func() bool { return emit.Len() >= 1 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	heartbeat.Shutdown(cfg, emit)
	recs := emit.Take()
	require.Len(t, recs, 2)
	require.Equal(t, "EVENT_TOPIC_CHANNEL_STATUS STARTED", recs[0].Catalog+" "+recs[0].Type)
	require.Equal(t, `{"type":"STARTED","worldId":0,"channelId":1,"ipAddress":"10.0.0.5","port":7576,"currentCapacity":12,"maxCapacity":1000}`, string(recs[0].Value))
	require.Equal(t, `{"type":"SHUTDOWN","worldId":0,"channelId":1,"ipAddress":"10.0.0.5","port":7576,"currentCapacity":12,"maxCapacity":1000}`, string(recs[1].Value))
	require.Equal(t, channeltest.Tenant.ID.String(), recs[1].Key)
}
