// Package heartbeat announces a channel instance's channels on COMMAND_TOPIC_CHANNEL_STATUS:
// a HEARTBEAT per channel when it starts and at every interval, and a SHUTDOWN per channel
// when it stops, each with the channel's address and how full it is.
package heartbeat

import (
	"context"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/sirupsen/logrus"
)

// Channel is one announced channel.
type Channel struct {
	ID   uint8
	Host string // what clients connect to
	Port uint16
}

// Config says what to announce and how often.
type Config struct {
	World       uint8
	Channels    []Channel
	Interval    time.Duration
	MaxCapacity uint32
	// Current counts a channel's live sessions.
	Current func(channel uint8) uint32
}

// Emitter produces a message (package commands).
type Emitter interface {
	Send(msg any, tr codecs.Trace) error
}

// Run sends heartbeats until ctx ends; it does not send the shutdown status (Shutdown does,
// once the sessions are closed).
func Run(ctx context.Context, cfg Config, emit Emitter) {
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		announce(cfg, emit, codecs.ChannelStatusCommandTypeHeartbeat)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown sends the stop status of every channel.
func Shutdown(cfg Config, emit Emitter) {
	announce(cfg, emit, codecs.ChannelStatusCommandTypeShutdown)
}

func announce(cfg Config, emit Emitter, typ string) {
	tr := codecs.NewTrace()
	for _, ch := range cfg.Channels {
		err := emit.Send(&codecs.ChannelStatusCommand{
			WorldID: cfg.World, ChannelID: ch.ID, IPAddress: ch.Host, Port: ch.Port,
			CurrentCapacity: cfg.Current(ch.ID), MaxCapacity: cfg.MaxCapacity, Type: typ,
		}, tr)
		if err != nil {
			logrus.WithError(err).WithFields(logrus.Fields{"channel": ch.ID, "type": typ}).Error("channel status not sent")
		}
	}
}
