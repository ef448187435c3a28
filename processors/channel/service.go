// Package channel runs a channel instance: the server players are connected to while they
// play. It turns the platform's event topics into frames for the connected players they
// concern and the players' actions into commands for the other services.
//
//	20 event topics -> events (one Goka processor per topic, group "Channel Service - {id}",
//	                   newest offset) -> route -> sessions -> gateway (WebSocket, JSON)
//	gateway actions -> commands (registry-driven emitters) -> 36 command topics
//	heartbeat       -> COMMAND_TOPIC_CHANNEL_STATUS
//
// README.md documents the design, the configuration and the client protocol.
package channel

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/channel/commands"
	"github.com/atlasstreams/atlas/processors/channel/events"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/heartbeat"
	"github.com/atlasstreams/atlas/processors/channel/route"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
)

// Service is a channel instance's configuration.
type Service struct {
	Options runtime.Options
	Config  Config
	// Accounts is the shared account registry (a view of the registry table).
	Accounts gateway.AccountRegistry
}

// written are the topics a channel instance writes: the commands and dead letters.
func written(o runtime.Options) []runtime.TopicSpec {
	var names []goka.Stream
	for _, name := range commands.Produced(o.Contracts) {
		names = append(names, atlas.TopicFromEnv(name))
	}
	return o.Streams(append(names, atlas.DeadLetterTopic)...)
}

// Topics are the topics a channel instance reads and writes.
func Topics(o runtime.Options) []runtime.TopicSpec {
	var streams []goka.Stream
	seen := map[goka.Stream]bool{}
	add := func(s goka.Stream) {
		if !seen[s] {
			seen[s] = true
			streams = append(streams, s)
		}
	}
	for _, t := range events.Consumed() {
		add(t.Stream)
	}
	for _, name := range commands.Produced(o.Contracts) {
		add(atlas.TopicFromEnv(name))
	}
	add(atlas.DeadLetterTopic)
	return o.Streams(streams...)
}

// Running is a started channel instance.
type Running struct {
	Processors []*runtime.Running
	// Sessions are the sessions the instance holds.
	Sessions *sessions.Registry
	// Presence is which character is on which channel of the world.
	Presence *events.Presence

	addrs    map[uint8]string
	stopping atomic.Bool
	done     chan struct{}
}

// Ready reports whether every processor consumes its topic and the instance is not stopping.
func (r *Running) Ready() bool {
	if r.stopping.Load() {
		return false
	}
	for _, p := range r.Processors {
		if !p.Ready() {
			return false
		}
	}
	return true
}

// Done is closed once the instance stopped after ctx ended: sessions closed, shutdown status
// sent, every message acknowledged.
func (r *Running) Done() <-chan struct{} { return r.done }

// Addr is the address a channel's gateway listens on (its real port when configured as 0).
func (r *Running) Addr(channel uint8) string { return r.addrs[channel] }

// Start runs the instance until ctx ends.
func (s Service) Start(ctx context.Context) (*Running, error) {
	cfg := s.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.Accounts == nil {
		return nil, fmt.Errorf("channel: no account registry")
	}
	group := atlas.ChannelGroup(cfg.ServiceID.String())
	s.Options = s.Options.WithRecordLimit(written(s.Options))
	// One replay memory for the instance: a ticket names one channel, which one instance serves.
	verifier, err := ticket.NewVerifier(cfg.VerifyKeys, ticket.VerifierOptions{})
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	limits := cfg.Limits.WithDefaults()
	listeners, err := listen(cfg.Channels, runtime.NewConnLimit(limits.MaxConnections))
	if err != nil {
		return nil, err
	}
	producer, err := s.Options.ProducerBuilder()(
		s.Options.Brokers, s.Options.ClientID+"-channel-"+cfg.ServiceID.String(), goka.DefaultHasher())
	if err != nil {
		closeAll(listeners)
		return nil, fmt.Errorf("channel producer: %w", err)
	}
	emitter := commands.New(producer, cfg.Tenant, string(group), s.Options.Contracts)
	reg := sessions.NewRegistry()
	mgr := sessions.NewManager(reg, emitter)
	mgr.Era = s.Options.Contracts
	directory := map[uint8]gateway.Address{}
	if cfg.TransferKey != nil {
		mgr.MoveTicket = transferTickets(cfg, ticket.NewSigner(cfg.TransferKey), directory)
	}
	r := &Running{Sessions: reg, Presence: events.NewPresence(), addrs: map[uint8]string{}, done: make(chan struct{})}

	scope := route.Scope{World: cfg.World, Channels: map[uint8]bool{}}
	var announced []heartbeat.Channel
	for ch, a := range cfg.Peers {
		directory[ch] = a
	}
	for _, l := range cfg.Channels {
		addr := listeners[l.Channel].Addr().String()
		r.addrs[l.Channel] = addr
		scope.Channels[l.Channel] = true
		_, portText, _ := net.SplitHostPort(addr)
		port, _ := strconv.ParseUint(portText, 10, 16)
		announced = append(announced, heartbeat.Channel{ID: l.Channel, Host: cfg.Host, Port: uint16(port)})
		directory[l.Channel] = gateway.Address{Host: cfg.Host, Port: uint16(port)}
	}

	handler := &events.Handler{Tenant: cfg.Tenant, Scope: scope, Sessions: mgr, Presence: r.Presence}
	var dones []<-chan struct{}
	for _, gg := range handler.Graphs(group) {
		p := s.Options.StartProcessor(ctx, gg, sarama.OffsetNewest, goka.WithConsumerGroupBuilder(events.ConsumerGroupBuilder(s.Options)))
		r.Processors = append(r.Processors, p)
		dones = append(dones, p.Done())
	}

	var gateways []*gateway.Gateway
	for _, l := range cfg.Channels {
		gw, err := gateway.New(gateway.Config{
			Tenant: cfg.Tenant, World: cfg.World, Channel: l.Channel, Capacity: cfg.MaxCapacity,
			SendQueue: cfg.SendQueue, Ready: r.Ready, OriginPatterns: cfg.OriginPatterns,
			Tickets: verifier, Limits: limits, Era: s.Options.Contracts,
			Directory: func(ch uint8) (gateway.Address, bool) { a, ok := directory[ch]; return a, ok },
		}, mgr, emitter, s.Accounts)
		if err != nil {
			return nil, err // unreachable: cfg.Validate checked the limits and the verifier exists
		}
		gateways = append(gateways, gw)
		go func(ln net.Listener, ch uint8) {
			if err := gw.Serve(ln); err != nil {
				logrus.WithError(err).WithField("channel", ch).Error("gateway stopped")
			}
		}(listeners[l.Channel], l.Channel)
	}

	hb := heartbeat.Config{World: cfg.World, Channels: announced, Interval: cfg.HeartbeatInterval,
		MaxCapacity: cfg.MaxCapacity, Current: reg.Count, Era: s.Options.Contracts}
	hbCtx, hbStop := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); heartbeat.Run(hbCtx, hb, emitter) }()

	logrus.WithFields(logrus.Fields{"group": string(group), "world": cfg.World, "channels": r.addrs}).Info("channel instance started")
	go func() {
		defer close(r.done)
		<-ctx.Done()
		// Refuse new entries, end every session with its LOGOUT and DESTROYED, then say the
		// channels are gone, and only then let the producer go.
		r.stopping.Store(true)
		mgr.CloseAll("channel shutting down")
		var wg sync.WaitGroup
		for _, gw := range gateways {
			wg.Add(1)
			go func(gw *gateway.Gateway) { defer wg.Done(); gw.Shutdown() }(gw)
		}
		wg.Wait()
		hbStop()
		<-hbDone
		heartbeat.Shutdown(hb, emitter)
		runtime.WaitAll(dones...)
		emitter.Close()
		if err := producer.Close(); err != nil {
			logrus.WithError(err).Error("channel producer close")
		}
	}()
	return r, nil
}

// listen opens the client ports, guarded: the instance's channels share one connection limit
// and their accept loops survive running out of file descriptors.
func listen(ls []Listen, limit *runtime.ConnLimit) (map[uint8]net.Listener, error) {
	out := map[uint8]net.Listener{}
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("channel %d: listen on %s: %w", l.Channel, l.Addr, err)
		}
		out[l.Channel] = runtime.GuardListener(ln, "gateway", limit)
	}
	return out, nil
}

// transferTickets mints, for a session told to move to ip:port, the ticket the channel there
// admits: same tenant, world, account and character, a new session id (the old connection's
// close must not end the new one). The directory is read when a move happens, after Start
// filled it.
func transferTickets(cfg Config, signer *ticket.Signer, directory map[uint8]gateway.Address) func(sessions.Session, string, uint16) (string, error) {
	return func(s sessions.Session, ip string, port uint16) (string, error) {
		for ch, a := range directory {
			if a.Host == ip && a.Port == port {
				t, _, err := signer.Mint(ticket.Grant{
					Tenant: ticket.TenantOf(cfg.Tenant), WorldID: cfg.World, ChannelID: ch,
					AccountID: s.AccountID, CharacterID: s.CharacterID, SessionID: uuid.New(),
				})
				return t, err
			}
		}
		return "", fmt.Errorf("%s:%d is no channel of world %d this instance knows", ip, port, cfg.World)
	}
}

func closeAll(ls map[uint8]net.Listener) {
	for _, ln := range ls {
		_ = ln.Close()
	}
}
