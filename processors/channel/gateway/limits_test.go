package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// untilClosed reads frames until the connection ends and returns them.
func untilClosed(t *testing.T, c *channeltest.Client) []protocol.ServerFrame {
	t.Helper()
	var out []protocol.ServerFrame
	for {
		ctx, cancel := context.WithTimeout(context.Background(), channeltest.FrameTimeout)
		_, data, err := c.WS.Read(ctx)
		cancel()
		if err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the gateway should have closed the connection")
			return out
		}
		f, err := protocol.ParseServerFrame(data)
		require.NoError(t, err)
		out = append(out, f)
	}
}

func codes(fs []protocol.ServerFrame) []protocol.Code {
	var out []protocol.Code
	for _, f := range fs {
		if f.Op == protocol.OpError {
			out = append(out, f.Code)
		}
	}
	return out
}

// A socket that does not enter in time is told and closed; so is one whose entry the account
// service never confirms, which also ends its pending session.
func TestEnterTimeout(t *testing.T) {
	f := newFixtureWith(t, gateway.Limits{EnterTimeout: 300 * time.Millisecond})
	was := counter(t, "atlas_gateway_disconnects_total", "reason", "enter_timeout")

	silent := f.dial(t)
	frames := untilClosed(t, silent)
	require.Equal(t, []protocol.Code{protocol.CodeEnterTimeout}, codes(frames))
	require.Equal(t, protocol.OpClosed, frames[len(frames)-1].Op)

	pending := f.dial(t)
	sid := uuid.New()
	pending.Enter(ticketFor(t, sid, 7, 42))
	frames = untilClosed(t, pending)
	require.Equal(t, []protocol.Code{protocol.CodeEnterTimeout}, codes(frames))
	require.Eventually(t, func() bool { return f.emit.Len() == 3 }, 10*time.Second, 5*time.Millisecond)
	_, held := f.reg.Get(sid)
	require.False(t, held)
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE", "COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED"},
		channeltest.Summary(f.emit.Take()))
	require.Equal(t, was+2, counter(t, "atlas_gateway_disconnects_total", "reason", "enter_timeout"))

	// An entered player is not affected.
	c, _ := f.enter(t, 8, 43)
	c.Send(chat)
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, 10*time.Second, 5*time.Millisecond)
}

// A peer that stops answering pings is dropped; one that reads (and so answers) stays.
func TestIdlePeersAreDropped(t *testing.T) {
	f := newFixtureWith(t, gateway.Limits{PingInterval: 50 * time.Millisecond, PongTimeout: 150 * time.Millisecond})
	was := counter(t, "atlas_gateway_disconnects_total", "reason", "idle_timeout")
	alive, _ := f.enter(t, 7, 42)
	readErr := make(chan error, 1)
	go func() { _, _, err := alive.WS.Read(context.Background()); readErr <- err }() // reading answers pings

	dead := f.dial(t) // never reads: its pongs never come
	_ = dead
	require.Eventually(t, func() bool {
		return counter(t, "atlas_gateway_disconnects_total", "reason", "idle_timeout") == was+1
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return f.gw.Connections() == 1 }, 10*time.Second, 10*time.Millisecond)
	select {
	case err := <-readErr:
		t.Fatalf("the reading client was dropped: %v", err)
	default:
	}
}

// Frames over the rate are answered with RATE_LIMITED and not handled; a client that keeps
// at it is closed.
func TestFrameRateLimit(t *testing.T) {
	f := newFixtureWith(t, gateway.Limits{FrameRate: 2, FrameBurst: 3, StrikeBurst: 4})
	was := counter(t, "atlas_gateway_disconnects_total", "reason", "rate_limited")
	c, _ := f.enter(t, 7, 42)
	for i := 0; i < 30; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), channeltest.FrameTimeout)
		err := c.WS.Write(ctx, websocket.MessageText, []byte(chat))
		cancel()
		if err != nil {
			break // closed under us: expected once the strikes are spent
		}
	}
	frames := untilClosed(t, c)
	got := codes(frames)
	require.Contains(t, got, protocol.CodeRateLimited)
	require.Equal(t, protocol.OpClosed, frames[len(frames)-1].Op)
	require.Equal(t, "rate limited", frames[len(frames)-1].Reason)
	require.Equal(t, was+1, counter(t, "atlas_gateway_disconnects_total", "reason", "rate_limited"))
	// Only frames within the bucket became commands: at most the burst and what refilled.
	require.LessOrEqual(t, f.emit.Len(), 3+2+2, "over-rate frames produce nothing") // LOGOUT and DESTROYED of the close come on top
}

// Beyond the connection limit a socket is closed at accept, before any upgrade; a place freed
// is usable again.
func TestConnectionLimit(t *testing.T) {
	f := newFixtureWith(t, gateway.Limits{MaxConnections: 2})
	was := counter(t, "atlas_listener_refused_total", "listener", "gateway")
	a := f.dial(t)
	f.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), channeltest.FrameTimeout)
	defer cancel()
	_, _, err := websocket.Dial(ctx, f.url, nil)
	require.Error(t, err)
	require.Equal(t, was+1, counter(t, "atlas_listener_refused_total", "listener", "gateway"))

	require.NoError(t, a.WS.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool {
		ws, _, err := websocket.Dial(ctx, f.url, nil)
		if err == nil {
			_ = ws.CloseNow()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
}

// 1,500 sockets that connect and never enter do not keep a player out: the player's entry is
// asked of the account service within a second.
func TestPlayerGetsInDuringAFloodOfIdleSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,500 sockets")
	}
	const idle = 1500
	f := newFixture(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var flood []*websocket.Conn
	var dialErr error
	sem := make(chan struct{}, 32)
	for i := 0; i < idle; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), channeltest.FrameTimeout)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, f.url, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErr = errors.Join(dialErr, err)
				return
			}
			flood = append(flood, ws)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range flood {
			_ = ws.CloseNow()
		}
	})
	require.NoError(t, dialErr)
	require.Eventually(t, func() bool { return f.gw.Connections() == idle }, 30*time.Second, 10*time.Millisecond)

	start := time.Now()
	c := f.dial(t)
	sid := uuid.New()
	c.Enter(ticketFor(t, sid, 7, 42))
	require.Eventually(t, func() bool { return f.emit.Len() == 1 }, time.Second, time.Millisecond,
		"the entry was not asked of the account service within a second")
	t.Logf("entry asked %s after dialing, beside %d idle sockets", time.Since(start).Round(time.Millisecond), idle)
}

// The client port answers a plain HTTP request and closes its socket: no idle keep-alive
// connection sits on a connection slot outside the WebSocket limits.
func TestPlainRequestsDoNotHoldAConnection(t *testing.T) {
	f := newFixtureWith(t, gateway.Limits{MaxConnections: 1})
	raw, err := net.Dial("tcp", strings.TrimPrefix(f.url, "ws://"))
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.NotEqual(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(channeltest.FrameTimeout)))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the socket after answering")
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, f.url, nil)
		if err == nil {
			_ = ws.CloseNow()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the slot is free for a player")
}

// A connection that keeps presenting refused tickets is closed after MaxTicketRefusals: each
// costs a signature check, and a player with a real ticket needs one.
func TestRefusedTicketsCloseTheConnection(t *testing.T) {
	f := newFixture(t)
	was := counter(t, "atlas_gateway_disconnects_total", "reason", "bad_tickets")
	other, err := ticket.GenerateKey()
	require.NoError(t, err)
	c := f.dial(t)
	for i := 0; i < gateway.MaxTicketRefusals; i++ {
		tk, _, err := ticket.NewSigner(other).Mint(ticket.Grant{Tenant: ticket.TenantOf(channeltest.Tenant), ChannelID: 1,
			AccountID: 7, CharacterID: 42, SessionID: uuid.New()})
		require.NoError(t, err)
		c.Enter(tk)
	}
	frames := untilClosed(t, c)
	require.Len(t, codes(frames), gateway.MaxTicketRefusals, "each refusal is answered")
	require.Equal(t, "too many refused tickets", frames[len(frames)-1].Reason)
	require.Equal(t, was+1, counter(t, "atlas_gateway_disconnects_total", "reason", "bad_tickets"))
	require.Empty(t, f.emit.Take())
}
