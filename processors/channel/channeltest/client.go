package channeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// FrameTimeout bounds every wait for a frame.
const FrameTimeout = 30 * time.Second

// Client is a test's WebSocket client of a channel gateway.
type Client struct {
	t  testing.TB
	WS *websocket.Conn
}

// Dial connects to a gateway at addr (host:port or a ws:// URL).
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	url := addr
	if !strings.HasPrefix(url, "ws") {
		url = "ws://" + addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), FrameTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	require.NoError(t, err)
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &Client{t: t, WS: ws}
}

// Send writes one text frame.
func (c *Client) Send(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), FrameTimeout)
	defer cancel()
	require.NoError(c.t, c.WS.Write(ctx, websocket.MessageText, []byte(text)))
}

// Next reads the next frame.
func (c *Client) Next() protocol.ServerFrame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), FrameTimeout)
	defer cancel()
	_, data, err := c.WS.Read(ctx)
	require.NoError(c.t, err)
	var f protocol.ServerFrame
	require.NoError(c.t, json.Unmarshal(data, &f))
	return f
}

// NextOp reads frames until one with op, failing on an error or closed frame first.
func (c *Client) NextOp(op string) protocol.ServerFrame {
	c.t.Helper()
	for {
		f := c.Next()
		if f.Op == op {
			return f
		}
		if op != protocol.OpError && op != protocol.OpClosed && (f.Op == protocol.OpError || f.Op == protocol.OpClosed) {
			c.t.Fatalf("waiting for %s, got %s: %s", op, f.Op, f.Reason)
		}
	}
}

// NextEvent reads frames until an event frame and returns its topic, type and message.
func (c *Client) NextEvent() protocol.ServerFrame { c.t.Helper(); return c.NextOp(protocol.OpEvent) }

// ExpectError reads the error frame a refused frame gets.
func (c *Client) ExpectError(contains string) {
	c.t.Helper()
	f := c.Next()
	require.Equal(c.t, protocol.OpError, f.Op, "frame %+v", f)
	require.Contains(c.t, f.Reason, contains)
}

// ExpectCode reads the error frame a refused frame gets and checks its code.
func (c *Client) ExpectCode(code protocol.Code) protocol.ServerFrame {
	c.t.Helper()
	f := c.Next()
	require.Equal(c.t, protocol.OpError, f.Op, "frame %+v", f)
	require.Equal(c.t, code, f.Code, "frame %+v", f)
	return f
}

// Enter sends the enter frame with a ticket.
func (c *Client) Enter(ticket string) {
	c.Send(EnterFrame(ticket))
}

// EnterFrame is the enter frame of a ticket.
func EnterFrame(ticket string) string {
	return fmt.Sprintf(`{"op":"enter","ticket":%q}`, ticket)
}
