package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/coder/websocket"
)

// writeTimeout bounds one frame write: a client whose socket does not drain is dropped.
const writeTimeout = 10 * time.Second

// conn is one client connection. Frames are queued and written by one goroutine, so a sender
// (a Kafka partition goroutine, another session's action) never waits for a client.
type conn struct {
	ws     *websocket.Conn
	out    chan []byte
	remote string // the client's address, for logs

	once   sync.Once
	closed chan struct{}
	reason string // set once, before closed is closed
	kind   string // the disconnect reason label, set with reason
}

func newConn(ws *websocket.Conn, queue int) *conn {
	return &conn{ws: ws, out: make(chan []byte, queue), closed: make(chan struct{})}
}

// Send implements sessions.Conn. A full queue means the client does not keep up: it is
// closed rather than allowed to hold back the partitions that feed it.
func (c *conn) Send(frame []byte) bool {
	select {
	case <-c.closed:
		return false
	default:
	}
	select {
	case c.out <- frame:
		return true
	default:
		c.closeAs(closedSlowReader, "client does not read its frames fast enough")
		return false
	}
}

// Close implements sessions.Conn: the session ended (logged out, moved, shut down).
func (c *conn) Close(reason string) { c.closeAs(closedSession, reason) }

// closeAs closes the connection once; kind is the disconnect label counted.
func (c *conn) closeAs(kind, reason string) {
	c.once.Do(func() {
		c.reason, c.kind = reason, kind
		disconnects.WithLabelValues(kind).Inc()
		close(c.closed)
	})
}

// Done is closed once Close was called.
func (c *conn) Done() <-chan struct{} { return c.closed }

// writeLoop writes queued frames until the connection is closed, then the frames still
// queued (an error frame sent just before a close must arrive), the closing frame, and the
// WebSocket close.
func (c *conn) writeLoop() {
	for {
		select {
		case f := <-c.out:
			if !c.write(f) {
				c.closeAs(closedByClient, "write failed")
				c.finish()
				return
			}
		case <-c.closed:
			if c.drain() {
				c.write(protocol.ClosedFrame(c.reason))
			}
			c.finish()
			return
		}
	}
}

// drain writes what is still queued; false if a write failed.
func (c *conn) drain() bool {
	for {
		select {
		case f := <-c.out:
			if !c.write(f) {
				return false
			}
		default:
			return true
		}
	}
}

func (c *conn) write(f []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, f) == nil
}

func (c *conn) finish() {
	if c.kind == closedIdle {
		_ = c.ws.CloseNow() // a peer that answers no ping will not answer a close handshake either
		return
	}
	reason := c.reason
	if len(reason) > 120 {
		reason = reason[:120] // a close frame's reason must fit in 123 bytes
	}
	_ = c.ws.Close(websocket.StatusNormalClosure, reason)
}
