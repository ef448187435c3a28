package channel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/channel"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/events"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/atlasstreams/atlas/views"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

var tenant = channeltest.Tenant

// partitionsOf gives the consumed topics the integration test reads most distinct partition
// counts; the others cycle through 3, 8 and 12.
func partitionsOf(o runtime.Options) []runtime.TopicSpec {
	fixed := map[string]int{
		"EVENT_TOPIC_ACCOUNT_SESSION_STATUS": 3,
		"EVENT_TOPIC_ACCOUNT_STATUS":         3,
		"EVENT_TOPIC_CHARACTER_CHAT":         8,
		"EVENT_TOPIC_MAP_STATUS":             12,
		"EVENT_TOPIC_SESSION_STATUS":         12,
	}
	var specs []runtime.TopicSpec
	for i, t := range events.Consumed() {
		n, ok := fixed[t.Catalog.Name]
		if !ok {
			n = []int{3, 8, 12}[i%3]
		}
		specs = append(specs, runtime.TopicSpec{Name: string(t.Stream), Partitions: n})
	}
	return specs
}

// stack is everything a player needs: the account service, the registry group and view, and
// two channel instances (channel 1 on A, channel 2 on B).
type stack struct {
	opts     runtime.Options
	registry *views.RegistryView
	a, b     *channel.Running
	stopA    context.CancelFunc
	records  *kafkatest.Consumer
	producer *kafkatest.Producer
}

func startStack(t *testing.T, era string) *stack {
	opts := kafkatest.Broker(t, 8)
	opts.Contracts = era
	_, err := opts.EnsureTopics(partitionsOf(opts)) // first: the rest must not pick their counts; registry.Start sizes its own
	require.NoError(t, err)
	for _, specs := range [][]runtime.TopicSpec{channel.Topics(opts), account.Topics(opts)} {
		_, err := opts.EnsureTopics(specs)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cfg := model.DefaultConfig()
	cfg.BcryptCost = bcrypt.MinCost
	cfg.TransitionTimeout = time.Minute // a slow machine must not expire a channel change
	sealer, err := seal.New(seal.RandomKey())
	require.NoError(t, err)
	acc, err := account.Service{Options: opts, Config: cfg, Passwords: model.Passwords{Cost: cfg.BcryptCost, Sealer: sealer}}.Start(ctx)
	require.NoError(t, err)
	reg, err := registry.Start(ctx, opts)
	require.NoError(t, err)
	s := &stack{opts: opts, registry: views.StartRegistry(ctx, opts)}

	start := func(ctx context.Context, ch uint8, peers map[uint8]gateway.Address) *channel.Running {
		c := channel.DefaultConfig()
		c.ServiceID, c.Tenant, c.World = uuid.New(), tenant, 0
		c.Channels = []channel.Listen{{Channel: ch, Addr: "127.0.0.1:0"}}
		c.HeartbeatInterval = 500 * time.Millisecond
		c.Peers = peers
		c.VerifyKeys = channeltest.VerifyKeys()
		c.TransferKey = channeltest.SigningKey()
		r, err := channel.Service{Options: opts, Config: c, Accounts: s.registry}.Start(ctx)
		require.NoError(t, err)
		return r
	}
	s.b = start(ctx, 2, nil)
	ctxA, stopA := context.WithCancel(ctx)
	s.stopA = stopA
	s.a = start(ctxA, 1, map[uint8]gateway.Address{2: address(t, s.b.Addr(2))})
	t.Cleanup(func() {
		cancel()
		runtime.WaitAll(s.a.Done(), s.b.Done(), acc.Done(), reg.Done(), s.registry.Done())
	})
	require.Eventually(t, func() bool {
		return acc.Ready() && reg.Ready() && s.registry.Ready() && s.a.Ready() && s.b.Ready()
	}, 60*time.Second, 20*time.Millisecond)

	topics := []string{string(atlas.CommandTopicCharacterChat), string(atlas.CommandTopicChannelStatus),
		string(atlas.EventTopicSessionStatus), string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus),
		string(atlas.CommandTopicAccountSession)}
	if era == codecs.EraCurrent {
		topics = append(topics, string(atlas.EventTopicChannelStatus), string(atlas.CommandTopicCharacterChannelChangeRequest))
	}
	s.records = kafkatest.Consume(t, opts, topics...)
	s.producer = kafkatest.NewProducer(t, opts)
	return s
}

func address(t *testing.T, hostPort string) gateway.Address {
	var a gateway.Address
	_, err := fmt.Sscanf(hostPort, "127.0.0.1:%d", &a.Port)
	require.NoError(t, err)
	a.Host = "127.0.0.1"
	return a
}

// produce writes a message of a catalog topic, keyed by id, with the tenant's headers.
func (s *stack) produce(t *testing.T, topic goka.Stream, key uint32, value any) {
	raw, ok := value.(string)
	if !ok {
		b, err := json.Marshal(value)
		require.NoError(t, err)
		raw = string(b)
	}
	h := tenant.Headers()
	codecs.NewTrace().AddTo(h)
	s.producer.Produce(string(topic), []byte(codecs.IDKey(key)), []byte(raw), h)
}

// waitRecord waits for a record of topic that match accepts and returns it.
func (s *stack) waitRecord(t *testing.T, topic string, what string, match func(kafkatest.Record) bool) kafkatest.Record {
	t.Helper()
	var found kafkatest.Record
	s.records.WaitFor(t, 60*time.Second, func(recs []kafkatest.Record) bool {
		for _, r := range recs {
			if r.Topic == topic && match(r) {
				found = r
				return true
			}
		}
		return false
	}, func(recs []kafkatest.Record) string { return what + "; " + kafkatest.Describe(recs) })
	return found
}

// player is a character whose account logged in through the login server and who entered
// channel 1 over WebSocket.
type player struct {
	name      string
	account   uint32
	character uint32
	session   uuid.UUID
	client    *channeltest.Client
}

// login logs an account in as the login server does (auto-registering it), moves it into
// transition toward the channel, mints its entry ticket and enters channel 1 over WebSocket.
func (s *stack) login(t *testing.T, name string, character uint32) *player {
	return s.loginWith(t, name, character, nil)
}

// loginWith is login with a step between the transition and the entry.
func (s *stack) loginWith(t *testing.T, name string, character uint32, beforeEnter func(*player)) *player {
	loginSession := uuid.New()
	s.produce(t, atlas.CommandTopicAccountSession, 0, &codecs.AccountSessionCommand{
		SessionID: loginSession, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeCreate,
		Body: &codecs.AccountSessionCommandCreateBody{AccountName: name, Password: "pw", IPAddress: "10.0.0.7"}})
	created := s.waitRecord(t, string(atlas.EventTopicAccountStatus), name+" created", func(r kafkatest.Record) bool {
		e, err := codecs.DecodeAccountStatusEvent(r.Value)
		return err == nil && e.Name == name && e.Status == codecs.AccountStatusEventStatusCreated
	})
	e, _ := codecs.DecodeAccountStatusEvent(created.Value)
	p := &player{name: name, account: e.AccountID, character: character, session: loginSession}

	params, _ := json.Marshal(map[string]any{"ipAddress": "127.0.0.1", "port": 1, "characterId": character})
	s.produce(t, atlas.CommandTopicAccountSession, p.account, &codecs.AccountSessionCommand{
		SessionID: loginSession, AccountID: p.account, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeProgressState,
		Body: &codecs.AccountSessionCommandProgressStateBody{State: 2, Params: params}})
	s.waitRecord(t, string(atlas.EventTopicAccountSessionStatus), name+" in transition", func(r kafkatest.Record) bool {
		e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
		return err == nil && e.SessionID == loginSession && e.Type == codecs.AccountSessionStatusEventTypeStateChanged
	})

	if beforeEnter != nil {
		beforeEnter(p)
	}
	p.client = channeltest.Dial(t, s.a.Addr(1))
	p.client.Enter(channeltest.Ticket(t, tenant, 0, 1, p.account, character, p.session))
	entered := p.client.NextOp(protocol.OpEntered)
	require.Equal(t, p.session, entered.SessionID)
	require.Equal(t, uint8(1), entered.ChannelID)
	require.Equal(t, "EVENT_TOPIC_ACCOUNT_SESSION_STATUS", p.client.NextEvent().Topic, "then the answer that completed the entry")
	return p
}

func (p *player) say(message string) {
	p.client.Send(fmt.Sprintf(`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false},"fields":{"message":%q}}`, message))
}

func mapEnter(mapID, character uint32) string {
	return fmt.Sprintf(`{"transactionId":"0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f","worldId":0,"channelId":1,"mapId":%d,"type":"CHARACTER_ENTER","body":{"characterId":%d}}`, mapID, character)
}

func mapChat(mapID, actor uint32, message string) string {
	return fmt.Sprintf(`{"worldId":0,"channelId":1,"mapId":%d,"actorId":%d,"message":%q,"type":"GENERAL","body":{"balloonOnly":false}}`, mapID, actor, message)
}

// Players log in through the account service and enter a channel over WebSocket; map chat
// reaches the map; a chat action becomes the catalog's command; a channel change moves a
// player to the other instance; a logged-out account's session is closed on its next action;
// heartbeats announce the channels and shutdown closes them. The consumed topics have 3, 8
// and 12 partitions.
//
// It runs once per contract era; in the current one the commands carry current upstream's
// keys, channels announce themselves on EVENT_TOPIC_CHANNEL_STATUS, and a channel change is
// announced to the maps service.
func TestChannelOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, era := range []string{codecs.EraSeed, codecs.EraCurrent} {
		t.Run(era, func(t *testing.T) { channelOnKafka(t, era) })
	}
}

func channelOnKafka(t *testing.T, era string) {
	current := era == codecs.EraCurrent
	s := startStack(t, era)
	// While alice's session is in transition, an attacker who knows her account id (the HTTP
	// API shows it) tries to enter as her: with a ticket of a key the channel does not know,
	// with one minted for channel 2, and with no ticket. Each is refused and asks nothing of
	// the account service, so alice's own entry goes through.
	alice := s.loginWith(t, "alice", 42, func(p *player) {
		forger, err := ticket.GenerateKey()
		require.NoError(t, err)
		forged, _, err := ticket.NewSigner(forger).Mint(ticket.Grant{Tenant: ticket.TenantOf(tenant), ChannelID: 1,
			AccountID: p.account, CharacterID: 99, SessionID: uuid.New()})
		require.NoError(t, err)
		attacker := channeltest.Dial(t, s.a.Addr(1))
		for _, c := range []struct {
			frame string
			code  protocol.Code
		}{
			{channeltest.EnterFrame(forged), protocol.Code(ticket.BadSignature)},
			{channeltest.EnterFrame(channeltest.Ticket(t, tenant, 0, 2, p.account, 99, uuid.New())), protocol.Code(ticket.WrongChannel)},
			{fmt.Sprintf(`{"op":"enter","sessionId":%q,"accountId":%d,"characterId":99}`, uuid.New(), p.account), protocol.Code(ticket.Missing)},
		} {
			attacker.Send(c.frame)
			attacker.ExpectCode(c.code)
		}
		require.Zero(t, s.a.Sessions.Count(1), "no session for a refused entry")
	})
	bob := s.login(t, "bob", 43)
	carol := s.login(t, "carol", 44)
	for _, p := range []*player{alice, bob, carol} {
		s.waitRecord(t, string(atlas.EventTopicSessionStatus), p.name+" present", func(r kafkatest.Record) bool {
			e, err := codecs.DecodeSessionStatusEvent(r.Value)
			return err == nil && e.SessionID == p.session && e.Type == codecs.SessionStatusEventTypeCreated &&
				e.ChannelID == 1 && e.AccountID == p.account && e.CharacterID == p.character
		})
	}

	t.Run("map chat reaches the map only", func(t *testing.T) {
		// The maps service puts the characters in their maps; each sees its own entry.
		for _, m := range []struct {
			p     *player
			mapID uint32
		}{{alice, channeltest.MapA}, {bob, channeltest.MapA}, {carol, channeltest.MapB}} {
			s.produce(t, atlas.EventTopicMapStatus, m.mapID, mapEnter(m.mapID, m.p.character))
			require.Contains(t, string(m.p.client.NextEvent().Message), fmt.Sprintf(`"characterId":%d`, m.p.character))
		}
		require.Contains(t, string(alice.client.NextEvent().Message), `"characterId":43`, "alice sees bob arrive")

		// Same key, so the map B line comes after the map A line for everyone: the first
		// event carol gets must be the map B line.
		s.produce(t, atlas.EventTopicCharacterChat, 42, mapChat(channeltest.MapA, 42, "for map A"))
		s.produce(t, atlas.EventTopicCharacterChat, 42, mapChat(channeltest.MapB, 42, "for map B"))
		for _, p := range []*player{alice, bob} {
			ev := p.client.NextEvent()
			require.Equal(t, "EVENT_TOPIC_CHARACTER_CHAT", ev.Topic)
			require.JSONEq(t, mapChat(channeltest.MapA, 42, "for map A"), string(ev.Message))
		}
		require.JSONEq(t, mapChat(channeltest.MapB, 42, "for map B"), string(carol.client.NextEvent().Message))
	})

	t.Run("a chat action produces the catalog's command", func(t *testing.T) {
		alice.say("hello from alice")
		rec := s.waitRecord(t, string(atlas.CommandTopicCharacterChat), "alice's line", func(r kafkatest.Record) bool {
			return true
		})
		want := `{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"hello from alice","type":"GENERAL","body":{"balloonOnly":false}}`
		if current {
			want = `{"worldId":0,"channelId":1,"mapId":100000000,"instance":"00000000-0000-0000-0000-000000000000","actorId":42,"message":"hello from alice","type":"GENERAL","body":{"balloonOnly":false}}`
		}
		require.Equal(t, want, string(rec.Value))
		require.Equal(t, []byte(codecs.IDKey(42)), rec.Key)
		got, err := rec.Tenant()
		require.NoError(t, err)
		require.Equal(t, tenant, got)
		_, err = codecs.ParseTraceParent(string(rec.Headers[codecs.HeaderTraceParent]))
		require.NoError(t, err)
		msg, err := codecs.DecodeCharacterChatCommand(rec.Value)
		require.NoError(t, err)
		require.Equal(t, "hello from alice", msg.Message)
	})

	t.Run("a channel change moves the player to the other instance", func(t *testing.T) {
		bob.client.Send(`{"op":"change_channel","channelId":2}`)
		move := bob.client.NextOp(protocol.OpMove)
		require.Equal(t, s.b.Addr(2), fmt.Sprintf("%s:%d", move.IPAddress, move.Port))
		require.NotEmpty(t, move.Ticket, "channel 1 mints the ticket channel 2 admits")

		moved := &player{name: "bob", account: bob.account, character: bob.character}
		moved.client = channeltest.Dial(t, s.b.Addr(2))
		moved.client.Enter(move.Ticket)
		entered := moved.client.NextOp(protocol.OpEntered)
		require.Equal(t, uint8(2), entered.ChannelID)
		require.Equal(t, bob.character, entered.CharacterID)
		moved.session = entered.SessionID
		require.NoError(t, bob.client.WS.CloseNow()) // the old connection goes away
		s.waitRecord(t, string(atlas.EventTopicSessionStatus), "bob's old session destroyed", func(r kafkatest.Record) bool {
			e, err := codecs.DecodeSessionStatusEvent(r.Value)
			return err == nil && e.SessionID == bob.session && e.Type == codecs.SessionStatusEventTypeDestroyed
		})
		// The old session's LOGOUT does not log bob out: he acts on channel 2.
		in, err := s.registry.LoggedIn(tenant, bob.account)
		require.NoError(t, err)
		require.True(t, in)
		moved.say("bob on channel 2")
		rec := s.waitRecord(t, string(atlas.CommandTopicCharacterChat), "bob's line", func(r kafkatest.Record) bool {
			m, err := codecs.DecodeCharacterChatCommand(r.Value)
			return err == nil && m.ActorID == 43
		})
		require.Contains(t, string(rec.Value), `"channelId":2,"mapId":0`)
		if current {
			s.waitRecord(t, string(atlas.CommandTopicCharacterChannelChangeRequest), "bob's change announced", func(r kafkatest.Record) bool {
				m, err := codecs.DecodeCharacterChannelChangeRequestCommand(r.Value)
				return err == nil && m.CharacterID == bob.character && m.OldChannelID == 1 && m.TargetChannelID == 2
			})
		}
	})

	t.Run("a logged-out account's session is closed on its next action", func(t *testing.T) {
		// An operator's forced logout: every session of carol's account.
		s.produce(t, atlas.CommandTopicAccountSession, carol.account, &codecs.AccountSessionCommand{
			AccountID: carol.account, Author: model.IssuerInternal, Type: codecs.AccountSessionCommandTypeLogout,
			Body: &codecs.AccountSessionCommandLogoutBody{}})
		require.Eventually(t, func() bool {
			in, err := s.registry.LoggedIn(tenant, carol.account)
			return err == nil && !in
		}, 30*time.Second, 10*time.Millisecond)
		carol.say("still there?")
		carol.client.ExpectError("not logged in")
		require.Equal(t, "account is not logged in", carol.client.NextOp(protocol.OpClosed).Reason)
		s.waitRecord(t, string(atlas.EventTopicSessionStatus), "carol's session destroyed", func(r kafkatest.Record) bool {
			e, err := codecs.DecodeSessionStatusEvent(r.Value)
			return err == nil && e.SessionID == carol.session && e.Type == codecs.SessionStatusEventTypeDestroyed
		})
	})

	t.Run("heartbeats, and shutdown closes sessions and announces it", func(t *testing.T) {
		// The seed's HEARTBEAT / SHUTDOWN on the command topic, or current upstream's STARTED /
		// SHUTDOWN on the event topic: the same fields either way.
		topic, up, down := string(atlas.CommandTopicChannelStatus), codecs.ChannelStatusCommandTypeHeartbeat, codecs.ChannelStatusCommandTypeShutdown
		decode := func(b []byte) (codecs.ChannelStatusEvent, error) {
			m, err := codecs.DecodeChannelStatusCommand(b)
			if err != nil {
				return codecs.ChannelStatusEvent{}, err
			}
			return codecs.ChannelStatusEvent{Type: m.Type, WorldID: m.WorldID, ChannelID: m.ChannelID, IPAddress: m.IPAddress,
				Port: m.Port, CurrentCapacity: m.CurrentCapacity, MaxCapacity: m.MaxCapacity}, nil
		}
		if current {
			topic, up, down = string(atlas.EventTopicChannelStatus), codecs.ChannelStatusEventTypeStarted, codecs.ChannelStatusEventTypeShutdown
			decode = func(b []byte) (codecs.ChannelStatusEvent, error) {
				m, err := codecs.DecodeChannelStatusEvent(b)
				if err != nil {
					return codecs.ChannelStatusEvent{}, err
				}
				return *m, nil
			}
		}
		status := func(typ string, ch uint8, port uint16) func(kafkatest.Record) bool {
			return func(r kafkatest.Record) bool {
				m, err := decode(r.Value)
				return err == nil && m.Type == typ && m.ChannelID == ch && m.Port == port && m.IPAddress == "127.0.0.1" &&
					string(r.Key) == tenant.ID.String()
			}
		}
		portA, portB := address(t, s.a.Addr(1)).Port, address(t, s.b.Addr(2)).Port
		s.waitRecord(t, topic, "heartbeat of channel 2", status(up, 2, portB))
		hb := s.waitRecord(t, topic, "heartbeat of channel 1", status(up, 1, portA))
		m, _ := decode(hb.Value)
		require.Equal(t, uint32(1000), m.MaxCapacity)
		if current {
			// Nothing on the command topic: current channels would take it for a status request.
			for _, r := range s.records.Records() {
				require.NotEqual(t, string(atlas.CommandTopicChannelStatus), r.Topic, "a channel status command in the current era")
			}
		}

		s.stopA()
		<-s.a.Done()
		require.Equal(t, "channel shutting down", alice.client.NextOp(protocol.OpClosed).Reason)
		s.waitRecord(t, topic, "channel 1 shut down", status(down, 1, portA))
		s.waitRecord(t, string(atlas.CommandTopicAccountSession), "alice logged out by the channel", func(r kafkatest.Record) bool {
			m, err := codecs.DecodeAccountSessionCommand(r.Value)
			return err == nil && m.SessionID == alice.session && m.Type == codecs.AccountSessionCommandTypeLogout && m.Author == "CHANNEL"
		})
	})
}
