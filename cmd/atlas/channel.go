package main

import (
	"context"
	"strconv"

	"github.com/atlasstreams/atlas/processors/channel"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/views"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// channelProcess is a channel instance with the registry view it reads.
type channelProcess struct {
	Channel  *channel.Running
	Registry *views.RegistryView
}

// Ready reports whether the instance consumes its topics and the registry is recovered.
func (p *channelProcess) Ready() bool { return p.Channel.Ready() && p.Registry.Ready() }

// Done is closed once both stopped after ctx ended.
func (p *channelProcess) Done() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.WaitAll(p.Channel.Done(), p.Registry.Done())
	}()
	return done
}

// startChannel runs a view of the account registry and a channel instance on it. The
// registry group itself (processors/registry) runs elsewhere: it is shared by every channel.
func startChannel(ctx context.Context, opts runtime.Options, cfg channel.Config) (*channelProcess, error) {
	reg := views.StartRegistry(ctx, opts)
	ch, err := channel.Service{Options: opts, Config: cfg, Accounts: reg}.Start(ctx)
	if err != nil {
		return nil, err
	}
	return &channelProcess{Channel: ch, Registry: reg}, nil
}

// devChannelConfig is the channel instance of `atlas dev`: the channel environment where set
// (README of processors/channel), else a random service id, tenant
// 00000000-0000-4000-8000-000000000001 GMS 83.1, world 0, channels 1 and 2 on 127.0.0.1:7575
// and :7576 (channels, from `atlas dev --channels`).
func devChannelConfig(channels string) (channel.Config, error) {
	defaults := map[string]string{
		"SERVICE_ID":          uuid.NewString(),
		"CHANNEL_TENANT_ID":   "00000000-0000-4000-8000-000000000001",
		"CHANNEL_LISTEN_HOST": "127.0.0.1",
	}
	return channel.ParseConfig(func(name string) string {
		if name == "CHANNEL_CHANNELS" {
			return channels // the flag, which already defaults to the variable
		}
		return envOr(name, defaults[name])
	})
}

// runChannel runs one channel instance against KAFKA_BROKERS, configured by SERVICE_ID and the
// CHANNEL_* variables. Run one instance per group of channel ids.
func runChannel(ctx context.Context, args []string) error {
	httpListen, opts, err := serviceSetup("channel", args)
	if err != nil {
		return err
	}
	cfg, err := channel.ConfigFromEnv()
	if err != nil {
		return err
	}
	p, err := startChannel(ctx, opts, cfg)
	if err != nil {
		return err
	}
	srv, addr, err := serveHTTP(ctx, httpListen, runtime.OpsMux(p.Ready))
	if err != nil {
		return err
	}
	fields := logrus.Fields{"http": addr, "brokers": opts.Brokers, "service_id": cfg.ServiceID.String(), "world": cfg.World}
	for _, l := range cfg.Channels {
		fields["channel_"+strconv.Itoa(int(l.Channel))] = p.Channel.Addr(l.Channel)
	}
	logrus.WithFields(fields).Info("channel instance started")
	<-ctx.Done()
	shutdownHTTP(srv)
	<-p.Done()
	return nil
}
