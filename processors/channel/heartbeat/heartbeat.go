// Package heartbeat announces a channel instance's channels: a HEARTBEAT per channel when it
// starts and at every interval, and a SHUTDOWN per channel when it stops, each with the
// channel's address and how full it is, on COMMAND_TOPIC_CHANNEL_STATUS (seed contracts). In
// the current contracts the same announcements are STARTED and SHUTDOWN on
// EVENT_TOPIC_CHANNEL_STATUS, where current upstream's world service registers channels:
// current channels take any message on the command topic for a status request and would
// re-register every interval.
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
	// Era is the contract era (codecs.EraSeed when empty).
	Era string
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
		announce(cfg, emit, true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown sends the stop status of every channel.
func Shutdown(cfg Config, emit Emitter) {
	announce(cfg, emit, false)
}

// announce sends one status per channel: up (a heartbeat) or going down.
func announce(cfg Config, emit Emitter, up bool) {
	tr := codecs.NewTrace()
	for _, ch := range cfg.Channels {
		var msg any
		var typ string
		if cfg.Era == codecs.EraCurrent {
			typ = codecs.ChannelStatusEventTypeShutdown
			if up {
				typ = codecs.ChannelStatusEventTypeStarted
			}
			msg = &codecs.ChannelStatusEvent{
				Type: typ, WorldID: cfg.World, ChannelID: ch.ID, IPAddress: ch.Host, Port: ch.Port,
				CurrentCapacity: cfg.Current(ch.ID), MaxCapacity: cfg.MaxCapacity,
			}
		} else {
			typ = codecs.ChannelStatusCommandTypeShutdown
			if up {
				typ = codecs.ChannelStatusCommandTypeHeartbeat
			}
			msg = &codecs.ChannelStatusCommand{
				WorldID: cfg.World, ChannelID: ch.ID, IPAddress: ch.Host, Port: ch.Port,
				CurrentCapacity: cfg.Current(ch.ID), MaxCapacity: cfg.MaxCapacity, Type: typ,
			}
		}
		if err := emit.Send(msg, tr); err != nil {
			logrus.WithError(err).WithFields(logrus.Fields{"channel": ch.ID, "type": typ}).Error("channel status not sent")
		}
	}
}
