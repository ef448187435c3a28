package gateway_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	url      string
	reg      *sessions.Registry
	mgr      *sessions.Manager
	emit     *channeltest.Emitter
	accounts *channeltest.Accounts
	ready    atomic.Bool
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{reg: sessions.NewRegistry(), emit: &channeltest.Emitter{}, accounts: &channeltest.Accounts{}}
	f.ready.Store(true)
	f.mgr = sessions.NewManager(f.reg, f.emit)
	gw := gateway.New(gateway.Config{
		Tenant: channeltest.Tenant, World: 0, Channel: 1, Capacity: 2, Ready: f.ready.Load,
		Directory: func(ch uint8) (gateway.Address, bool) {
			return gateway.Address{Host: "10.0.0.5", Port: 7576}, ch == 2
		},
	}, f.mgr, f.emit, f.accounts)
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { f.mgr.CloseAll("test over"); gw.Shutdown(); srv.Close() })
	f.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return f
}

func (f *fixture) dial(t *testing.T) *channeltest.Client { return channeltest.Dial(t, f.url) }

func enterFrame(sid uuid.UUID, account, character uint32) string {
	return fmt.Sprintf(`{"op":"enter","sessionId":"%s","accountId":%d,"characterId":%d}`, sid, account, character)
}

// enter makes an active session over a new connection, answering for the account service.
func (f *fixture) enter(t *testing.T, account, character uint32) (*channeltest.Client, uuid.UUID) {
	c := f.dial(t)
	sid := uuid.New()
	c.Send(enterFrame(sid, account, character))
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE"}, channeltest.Summary(f.emit.Take()))
	require.True(t, f.mgr.Complete(sid, character, codecs.NewTrace()))
	require.Equal(t, protocol.OpEntered, c.Next().Op)
	require.Equal(t, []string{"EVENT_TOPIC_SESSION_STATUS CREATED"}, channeltest.Summary(f.emit.Take()))
	return c, sid
}

const chat = `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false},"fields":{"message":"hi"}}`

// A bad frame gets an error frame and nothing else: no message, no change to its session or
// to another one.
func TestBadFramesChangeNothing(t *testing.T) {
	f := newFixture(t)
	a, sidA := f.enter(t, 7, 42)
	b, _ := f.enter(t, 8, 43)
	before := f.reg.List()

	for _, c := range []struct{ frame, reason string }{
		{`not json`, "bad frame"},
		{`{"op":"fly"}`, "unknown op"},
		{`{"sessionId":"x"}`, "bad frame"},
		{`{"op":"action","topc":"COMMAND_TOPIC_CHARACTER_CHAT"}`, "unknown field"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":"x"}}`, "body does not fit"},
		{`{"op":"action","topic":"COMMAND_TOPIC_ACCOUNT_SESSION","type":"LOGOUT"}`, "not a command a client may send"},
		{enterFrame(uuid.New(), 7, 42), "already entered"},
		{`{"op":"change_channel","channelId":9}`, "not known"},
		{`{"op":"change_channel","channelId":1}`, "already on that channel"},
		{`{"op":"change_channel"}`, "needs a channelId"},
		{`{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","fields":{"message":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}}`, "limit"},
	} {
		a.Send(c.frame)
		a.ExpectError(c.reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.WS.Write(ctx, websocket.MessageBinary, []byte{1, 2}))
	a.ExpectError("JSON text")

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

func TestEntryRules(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	c.Send(chat)
	c.ExpectError("enter first")
	c.Send(`{"op":"enter","sessionId":"00000000-0000-0000-0000-000000000000","accountId":7,"characterId":42}`)
	c.ExpectError("sessionId")
	c.Send(`{"op":"enter","sessionId":"` + uuid.NewString() + `","accountId":7}`)
	c.ExpectError("characterId")
	f.ready.Store(false)
	c.Send(enterFrame(uuid.New(), 7, 42))
	c.ExpectError("starting")
	f.ready.Store(true)

	sid := uuid.New()
	c.Send(enterFrame(sid, 7, 42))
	require.Eventually(t, func() bool { _, ok := f.reg.Get(sid); return ok }, 10*time.Second, 5*time.Millisecond)
	c.Send(chat)
	c.ExpectError("PENDING")

	other := f.dial(t)
	other.Send(enterFrame(uuid.New(), 8, 42))
	other.ExpectError("character already connected")
	other.Send(enterFrame(sid, 8, 43))
	other.ExpectError("session id already connected")
	other.Send(enterFrame(uuid.New(), 8, 43))
	require.Eventually(t, func() bool { return f.reg.Count(1) == 2 }, 10*time.Second, 5*time.Millisecond)
	third := f.dial(t)
	third.Send(enterFrame(uuid.New(), 9, 44))
	third.ExpectError("full")
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
	c.ExpectError("MOVING")
}

// An action of a session whose account is logged out closes it; a closed connection ends
// its session; both with LOGOUT and DESTROYED.
func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	a, sidA := f.enter(t, 7, 42)
	b, sidB := f.enter(t, 8, 43)

	f.accounts.SetLoggedOut(7)
	a.Send(chat)
	a.ExpectError("not logged in")
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
	c.ExpectError("account registry unavailable")
	_, ok := f.reg.Get(sid)
	require.True(t, ok)
	require.Empty(t, f.emit.Take())
}
