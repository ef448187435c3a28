package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	url      string
	gw       *gateway.Gateway
	reg      *sessions.Registry
	mgr      *sessions.Manager
	emit     *channeltest.Emitter
	accounts *channeltest.Accounts
	ready    atomic.Bool
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, gateway.Limits{}) }

// newFixtureWith serves a gateway of channel 1 (world 0, capacity 2) on a guarded listener,
// as the channel service does.
func newFixtureWith(t *testing.T, limits gateway.Limits) *fixture {
	f := &fixture{reg: sessions.NewRegistry(), emit: &channeltest.Emitter{}, accounts: &channeltest.Accounts{}}
	f.ready.Store(true)
	f.mgr = sessions.NewManager(f.reg, f.emit)
	gw, err := gateway.New(gateway.Config{
		Tenant: channeltest.Tenant, World: 0, Channel: 1, Capacity: 2, Ready: f.ready.Load,
		Tickets: channeltest.Verifier(t), Limits: limits,
		Directory: func(ch uint8) (gateway.Address, bool) {
			return gateway.Address{Host: "10.0.0.5", Port: 7576}, ch == 2
		},
	}, f.mgr, f.emit, f.accounts)
	require.NoError(t, err)
	f.gw = gw
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	max := limits.WithDefaults().MaxConnections
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gw.Serve(runtime.GuardListener(ln, "gateway", runtime.NewConnLimit(max)))
	}()
	t.Cleanup(func() { f.mgr.CloseAll("test over"); gw.Shutdown(); <-served })
	f.url = "ws://" + ln.Addr().String()
	return f
}

func (f *fixture) dial(t *testing.T) *channeltest.Client { return channeltest.Dial(t, f.url) }

// ticketFor mints a valid ticket of this channel.
func ticketFor(t *testing.T, sid uuid.UUID, account, character uint32) string {
	return channeltest.Ticket(t, channeltest.Tenant, 0, 1, account, character, sid)
}

// enter makes an active session over a new connection, answering for the account service.
func (f *fixture) enter(t *testing.T, account, character uint32) (*channeltest.Client, uuid.UUID) {
	c := f.dial(t)
	sid := uuid.New()
	c.Enter(ticketFor(t, sid, account, character))
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE"}, channeltest.Summary(f.emit.Take()))
	require.True(t, f.mgr.Complete(sid, character, codecs.NewTrace()))
	require.Equal(t, protocol.OpEntered, c.Next().Op)
	require.Equal(t, []string{"EVENT_TOPIC_SESSION_STATUS CREATED"}, channeltest.Summary(f.emit.Take()))
	return c, sid
}

// counter reads a counter of the default registry by name and one label value.
func counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

const chat = `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false},"fields":{"message":"hi"}}`

// A bad frame gets an error frame with its code and nothing else: no message, no change to
// its session or to another one.
func TestBadFramesChangeNothing(t *testing.T) {
	f := newFixture(t)
	a, sidA := f.enter(t, 7, 42)
	b, _ := f.enter(t, 8, 43)
	before := f.reg.List()

	for _, c := range []struct {
		frame  string
		code   protocol.Code
		reason string
	}{
		{`not json`, protocol.CodeBadFrame, "bad frame"},
		{`{"op":"fly"}`, protocol.CodeBadFrame, "unknown op"},
		{`{"sessionId":"x"}`, protocol.CodeBadFrame, "bad frame"},
		{`{"op":"action","topc":"COMMAND_TOPIC_CHARACTER_CHAT"}`, protocol.CodeBadFrame, "unknown field"},
		{`{"op":"action","op":"enter"}`, protocol.CodeDuplicateKey, "twice"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false},"fields":{"message":"a","actorId":1,"actorid":99}}`, protocol.CodeDuplicateKey, "differ only in case"},
		{`{"op":"action","topic":"COMMAND_TOPIC_BUDDY_LIST","type":"REQUEST_ADD","body":{"characterId":43,"CharacterID":44,"group":"g"}}`, protocol.CodeDuplicateKey, "differ only in case"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false},"fields":{"message":"a","actorid":99}}`, protocol.CodeBadAction, "not a key"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":"x"}}`, protocol.CodeBadAction, "body does not fit"},
		{`{"op":"action","topic":"COMMAND_TOPIC_ACCOUNT_SESSION","type":"LOGOUT"}`, protocol.CodeNotAllowed, "server-only"},
		{`{"op":"action","topic":"COMMAND_TOPIC_SAGA","fields":{"sagaType":"inventory_transaction","initiatedBy":"STORAGE","steps":[]}}`, protocol.CodeNotAllowed, "server-only"},
		{`{"op":"action","topic":"COMMAND_TOPIC_STORAGE","type":"UPDATE_MESOS","body":{"mesos":1000000,"operation":"SET"}}`, protocol.CodeNotAllowed, "server-only"},
		{`{"op":"action","topic":"COMMAND_TOPIC_SYSTEM_MESSAGE","type":"SEND_MESSAGE","body":{}}`, protocol.CodeNotAllowed, "server-only"},
		{`{"op":"action","topic":"COMMAND_TOPIC_GUILD","type":"LEAVE","body":{"guildId":5,"force":true},"fields":{"characterId":43}}`, protocol.CodeNotAllowed, "body.force must be false"},
		{ticketFrame(t, uuid.New(), 7, 42), protocol.CodeAlreadyEntered, "already entered"},
		{`{"op":"change_channel","channelId":9}`, protocol.CodeBadChange, "not known"},
		{`{"op":"change_channel","channelId":1}`, protocol.CodeBadChange, "already on that channel"},
		{`{"op":"change_channel"}`, protocol.CodeBadChange, "needs a channelId"},
		{`{"op":"change_channel","channelId":1,"ipAddress":"203.0.113.9","port":1}`, protocol.CodeBadChange, "not both"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","fields":{"message":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}}`, protocol.CodeFrameTooLarge, "limit"},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), protocol.CodeBadFrame, "nested deeper"},
	} {
		was := counter(t, "atlas_gateway_error_frames_total", "code", string(c.code))
		a.Send(c.frame)
		got := a.ExpectCode(c.code)
		require.Contains(t, got.Reason, c.reason, c.frame)
		require.Equal(t, was+1, counter(t, "atlas_gateway_error_frames_total", "code", string(c.code)), "counted by code")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.WS.Write(ctx, websocket.MessageBinary, []byte{1, 2}))
	a.ExpectCode(protocol.CodeBadFrame)

	require.Empty(t, f.emit.Take(), "no message for a bad frame")
	require.Equal(t, before, f.reg.List(), "no session changed")

	// Both sessions still work.
	b.Send(chat)
	a.Send(chat)
	require.Eventually(t, func() bool { return f.emit.Len() == 2 }, 10*time.Second, 5*time.Millisecond)
	s, ok := f.reg.Get(sidA)
	require.True(t, ok)
	require.Equal(t, sessions.Active, s.State)
}

func ticketFrame(t *testing.T, sid uuid.UUID, account, character uint32) string {
	return channeltest.EnterFrame(ticketFor(t, sid, account, character))
}

// Every way an entry ticket can be wrong is refused with its code, produces nothing, holds no
// session, and is counted; a good ticket still gets in afterwards.
func TestTicketRefusals(t *testing.T) {
	f := newFixture(t)
	sid := uuid.New()
	other, err := ticket.GenerateKey()
	require.NoError(t, err)
	mintWith := func(s *ticket.Signer, g ticket.Grant) string {
		tk, _, err := s.Mint(g)
		require.NoError(t, err)
		return tk
	}
	grant := ticket.Grant{Tenant: ticket.TenantOf(channeltest.Tenant), ChannelID: 1, AccountID: 7, CharacterID: 42, SessionID: sid}
	expired := channeltest.Signer()
	expired.Now = func() time.Time { return time.Now().Add(-2 * time.Minute) }
	good := ticketFor(t, sid, 7, 42)
	tampered := good[:len(good)-4] + "AAAA"
	if tampered == good {
		tampered = good[:len(good)-4] + "BBBB"
	}
	otherTenant := grant
	otherTenant.Tenant = ticket.TenantOf(channeltest.Other)
	otherWorld := grant
	otherWorld.WorldID = 1
	otherChannel := grant
	otherChannel.ChannelID = 2

	c := f.dial(t)
	c.Send(chat)
	c.ExpectCode(protocol.CodeNotEntered)
	for _, tc := range []struct {
		name  string
		frame string
		code  ticket.Code
	}{
		{"no ticket, ids only", fmt.Sprintf(`{"op":"enter","sessionId":%q,"accountId":7,"characterId":42}`, sid), ticket.Missing},
		{"not a JWT", channeltest.EnterFrame("not.a.jwt"), ticket.Invalid},
		{"tampered signature", channeltest.EnterFrame(tampered), ticket.BadSignature},
		{"signed by a key this channel does not hold", channeltest.EnterFrame(mintWith(ticket.NewSigner(other), grant)), ticket.BadSignature},
		{"expired", channeltest.EnterFrame(mintWith(expired, grant)), ticket.Expired},
		{"another tenant", channeltest.EnterFrame(mintWith(channeltest.Signer(), otherTenant)), ticket.WrongTenant},
		{"another world", channeltest.EnterFrame(mintWith(channeltest.Signer(), otherWorld)), ticket.WrongWorld},
		{"another channel", channeltest.EnterFrame(mintWith(channeltest.Signer(), otherChannel)), ticket.WrongChannel},
		{"frame ids differ from the ticket's", fmt.Sprintf(`{"op":"enter","ticket":%q,"accountId":8}`, good), ticket.Mismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			was := counter(t, "atlas_gateway_error_frames_total", "code", string(tc.code))
			c := f.dial(t) // a connection is closed after a few refused tickets
			c.Send(tc.frame)
			got := c.ExpectCode(protocol.Code(tc.code))
			require.NotContains(t, got.Reason, "eyJ", "the reason never quotes a ticket")
			require.Equal(t, was+1, counter(t, "atlas_gateway_error_frames_total", "code", string(tc.code)))
			require.Empty(t, f.emit.Take(), "a refused entry asks nothing of the account service")
			require.Empty(t, f.reg.List())
		})
	}

	// A starting channel refuses without using the ticket up: the same ticket works once ready.
	f.ready.Store(false)
	c.Send(channeltest.EnterFrame(good))
	c.ExpectCode(protocol.CodeStarting)
	f.ready.Store(true)
	c.Send(fmt.Sprintf(`{"op":"enter","ticket":%q,"sessionId":%q,"accountId":7,"characterId":42}`, good, sid))
	require.Eventually(t, func() bool { _, ok := f.reg.Get(sid); return ok }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE"}, channeltest.Summary(f.emit.Take()))
	c.Send(chat)
	c.ExpectCode(protocol.CodeNotActive) // pending until the account service answers

	// The same ticket again, from another connection, is a replay.
	replay := f.dial(t)
	replay.Send(channeltest.EnterFrame(good))
	replay.ExpectCode(protocol.Code(ticket.Replayed))
	require.Empty(t, f.emit.Take())
}

func TestEntryRules(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	sid := uuid.New()
	c.Send(ticketFrame(t, sid, 7, 42))
	require.Eventually(t, func() bool { _, ok := f.reg.Get(sid); return ok }, 10*time.Second, 5*time.Millisecond)

	other := f.dial(t)
	other.Send(ticketFrame(t, uuid.New(), 8, 42))
	other.ExpectCode(protocol.CodeInUse)
	other.Send(ticketFrame(t, sid, 8, 43))
	other.ExpectCode(protocol.CodeInUse)
	other.Send(ticketFrame(t, uuid.New(), 8, 43))
	require.Eventually(t, func() bool { return f.reg.Count(1) == 2 }, 10*time.Second, 5*time.Millisecond)
	third := f.dial(t)
	full := ticketFor(t, uuid.New(), 9, 44)
	third.Send(channeltest.EnterFrame(full))
	third.ExpectCode(protocol.CodeFull)
	// A full channel does not use the ticket up: it works once a place is free.
	require.NoError(t, c.WS.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return f.reg.Count(1) == 1 }, 10*time.Second, 5*time.Millisecond)
	third.Send(channeltest.EnterFrame(full))
	require.Eventually(t, func() bool { return f.reg.Count(1) == 2 }, 10*time.Second, 5*time.Millisecond)
}

func TestActionsAndChannelChange(t *testing.T) {
	f := newFixture(t)
	c, sid := f.enter(t, 7, 42)
	c.Send(chat)
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, 10*time.Second, 5*time.Millisecond)
	rec := f.emit.Take()[0]
	require.Equal(t, `{"worldId":0,"channelId":1,"mapId":0,"actorId":42,"message":"hi","type":"GENERAL","body":{"balloonOnly":false}}`, string(rec.Value))

	c.Send(`{"op":"change_channel","channelId":2}`)
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, 10*time.Second, 5*time.Millisecond)
	rec = f.emit.Take()[0]
	require.JSONEq(t, fmt.Sprintf(`{"sessionId":"%s","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":2,"params":{"ipAddress":"10.0.0.5","port":7576}}}`, sid), string(rec.Value))

	require.True(t, f.mgr.Move(sid, "10.0.0.5", 7576))
	m := c.Next()
	require.Equal(t, protocol.OpMove, m.Op)
	require.Equal(t, uint16(7576), m.Port)
	c.Send(chat)
	c.ExpectCode(protocol.CodeNotActive)
}

// An action of a session whose account is logged out closes it; a closed connection ends
// its session; both with LOGOUT and DESTROYED.
func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	a, sidA := f.enter(t, 7, 42)
	b, sidB := f.enter(t, 8, 43)

	f.accounts.SetLoggedOut(7)
	a.Send(chat)
	a.ExpectCode(protocol.CodeNotLoggedIn)
	closed := a.Next()
	require.Equal(t, protocol.OpClosed, closed.Op)
	require.Equal(t, "account is not logged in", closed.Reason)
	_, _, err := a.WS.Read(context.Background())
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
	require.Eventually(t, func() bool { return f.emit.Len() == 2 }, 10*time.Second, 5*time.Millisecond)
	recs := f.emit.Take()
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED"}, channeltest.Summary(recs))
	require.Contains(t, string(recs[0].Value), sidA.String())

	require.NoError(t, b.WS.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return f.emit.Len() == 2 }, 10*time.Second, 5*time.Millisecond)
	recs = f.emit.Take()
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED"}, channeltest.Summary(recs))
	require.Contains(t, string(recs[1].Value), sidB.String())
	require.Empty(t, f.reg.List())
}

func TestRegistryUnavailableRefusesTheActionOnly(t *testing.T) {
	f := newFixture(t)
	c, sid := f.enter(t, 7, 42)
	f.accounts.SetErr(fmt.Errorf("view recovering"))
	c.Send(chat)
	c.ExpectCode(protocol.CodeUnavailable)
	_, ok := f.reg.Get(sid)
	require.True(t, ok)
	require.Empty(t, f.emit.Take())
}

func TestNewRefusesAGatewayWithoutTickets(t *testing.T) {
	_, err := gateway.New(gateway.Config{Tenant: channeltest.Tenant}, sessions.NewManager(sessions.NewRegistry(), &channeltest.Emitter{}), &channeltest.Emitter{}, &channeltest.Accounts{})
	require.ErrorContains(t, err, "ticket verifier")
	_, err = gateway.New(gateway.Config{Tickets: channeltest.Verifier(t), Limits: gateway.Limits{EnterTimeout: time.Minute}},
		sessions.NewManager(sessions.NewRegistry(), &channeltest.Emitter{}), &channeltest.Emitter{}, &channeltest.Accounts{})
	require.ErrorContains(t, err, "enter timeout")
}

// The client port serves the WebSocket upgrade only: no metrics, health or readiness there.
func TestOpsEndpointsAreNotOnTheClientPort(t *testing.T) {
	f := newFixture(t)
	base := "http" + strings.TrimPrefix(f.url, "ws")
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.NotEqual(t, http.StatusOK, resp.StatusCode, path)
	}
}
