// Package gateway is the client side of a channel: a WebSocket endpoint per channel id that
// speaks the JSON protocol of package protocol. A client enters as a character, then sends
// actions that become catalog commands, and receives the events routed to it.
//
// Each connection has one reading goroutine (frames are handled in order, one at a time) and
// one writing goroutine fed by a queue. A frame a client gets wrong is answered with an error
// frame and changes nothing; it cannot reach another session, whose state it never touches.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// AccountRegistry says whether an account is logged in, per tenant. The shared registry view
// (views.Registry) is one; an action from a session whose account is not logged in closes it.
type AccountRegistry interface {
	LoggedIn(t codecs.Tenant, accountID uint32) (bool, error)
}

// Address is where clients reach a channel.
type Address struct {
	Host string
	Port uint16
}

// Config is one channel endpoint.
type Config struct {
	Tenant  codecs.Tenant
	World   uint8
	Channel uint8
	// Capacity bounds the sessions of the channel (0: no bound).
	Capacity uint32
	// SendQueue is how many frames a connection may have queued before it is dropped.
	SendQueue int
	// Directory resolves change_channel by channel id (this world's channels).
	Directory func(channel uint8) (Address, bool)
	// Ready reports whether the instance consumes its topics; entries wait until it does, or
	// the account service's answer could be missed.
	Ready func() bool
	// OriginPatterns allow browser pages of other origins (see websocket.AcceptOptions).
	OriginPatterns []string
}

// Emitter produces commands (package commands).
type Emitter interface {
	Send(msg any, tr codecs.Trace) error
}

// Gateway serves one channel's clients.
type Gateway struct {
	cfg      Config
	sessions *sessions.Manager
	emit     Emitter
	accounts AccountRegistry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*conn]struct{}
}

// New returns the gateway of one channel.
func New(cfg Config, mgr *sessions.Manager, emit Emitter, accounts AccountRegistry) *Gateway {
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 256
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.Directory == nil {
		cfg.Directory = func(uint8) (Address, bool) { return Address{}, false }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{cfg: cfg, sessions: mgr, emit: emit, accounts: accounts, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error {
	srv := &http.Server{Handler: g}
	go func() {
		<-g.ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, closes those left (sessions were closed by the caller
// first, sessions.Manager.CloseAll, so each ended with its LOGOUT and DESTROYED) and waits
// until every connection has ended.
func (g *Gateway) Shutdown() {
	g.mu.Lock()
	g.cancel()
	for c := range g.conns {
		c.Close("channel shutting down")
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// ServeHTTP upgrades a request to a WebSocket connection and serves it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.ctx.Err() != nil {
		g.mu.Unlock()
		http.Error(w, "channel is shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: g.cfg.OriginPatterns})
	if err != nil {
		return // Accept answered the request
	}
	// Frames above the protocol's limit get an error frame; only absurd ones end the socket.
	ws.SetReadLimit(16 * protocol.MaxFrameBytes)
	c := newConn(ws, g.cfg.SendQueue)
	if !g.track(c) {
		c.Close("channel shutting down")
	}
	defer g.untrack(c)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop() }()

	var sid uuid.UUID // the session this connection entered, once it did
	g.readLoop(c, &sid)
	if sid != uuid.Nil {
		g.sessions.Close(sid, "connection closed", codecs.NewTrace())
	}
	c.Close("connection closed")
	<-writerDone
}

// readLoop reads frames until the connection ends. Closing a session closes its connection
// from the writing side (last frames, then the WebSocket close), which ends Read here; the
// read is never cancelled by a context, as that would drop the socket before the last frames.
func (g *Gateway) readLoop(c *conn, sid *uuid.UUID) {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.Send(protocol.ErrorFrame("frames are JSON text messages"))
			continue
		}
		g.handleFrame(c, sid, data)
	}
}

// track registers a connection for Shutdown; false once shutting down.
func (g *Gateway) track(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx.Err() != nil {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Gateway) untrack(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
}

// handleFrame handles one client frame. Whatever goes wrong is answered to this client alone.
func (g *Gateway) handleFrame(c *conn, sid *uuid.UUID, data []byte) {
	defer func() {
		if p := recover(); p != nil {
			logrus.WithField("panic", fmt.Sprint(p)).Error("gateway frame handler panicked")
			c.Send(protocol.ErrorFrame("internal error"))
		}
	}()
	f, err := protocol.ParseClientFrame(data)
	if err != nil {
		c.Send(protocol.ErrorFrame(err.Error()))
		return
	}
	switch f.Op {
	case protocol.OpEnter:
		err = g.enter(c, sid, f)
	case protocol.OpAction:
		err = g.action(*sid, f)
	case protocol.OpChangeChannel:
		err = g.changeChannel(*sid, f)
	}
	if err != nil && !errors.Is(err, errAnswered) {
		c.Send(protocol.ErrorFrame(err.Error()))
	}
}

func (g *Gateway) enter(c *conn, sid *uuid.UUID, f protocol.ClientFrame) error {
	switch {
	case *sid != uuid.Nil:
		return errors.New("this connection already entered")
	case f.SessionID == uuid.Nil:
		return errors.New("enter needs a sessionId (a uuid other than the nil uuid)")
	case f.AccountID == 0 || f.CharacterID == 0:
		return errors.New("enter needs an accountId and a characterId")
	case !g.cfg.Ready():
		return errors.New("channel is starting; try again shortly")
	}
	s := sessions.Session{
		ID: f.SessionID, AccountID: f.AccountID, CharacterID: f.CharacterID,
		Field: sessions.Field{World: g.cfg.World, Channel: g.cfg.Channel}, Conn: c,
	}
	if err := g.sessions.Enter(s, g.cfg.Capacity, codecs.NewTrace()); err != nil {
		return err
	}
	*sid = f.SessionID
	return nil
}

// active returns the session of an action, checked: entered, active, and its account still
// logged in per the registry. A logged-out account's session is closed.
func (g *Gateway) active(sid uuid.UUID) (sessions.Session, error) {
	if sid == uuid.Nil {
		return sessions.Session{}, errors.New("enter first")
	}
	s, ok := g.sessions.Registry().Get(sid)
	if !ok {
		return s, errors.New("session is closed")
	}
	if s.State != sessions.Active {
		return s, fmt.Errorf("session is %s, not active", s.State)
	}
	in, err := g.accounts.LoggedIn(g.cfg.Tenant, s.AccountID)
	if err != nil {
		return s, fmt.Errorf("account registry unavailable: %v", err)
	}
	if !in {
		s.Conn.Send(protocol.ErrorFrame("account is not logged in"))
		g.sessions.Close(sid, "account is not logged in", codecs.NewTrace())
		return s, errAnswered
	}
	return s, nil
}

// errAnswered: the client was already told, no error frame is due.
var errAnswered = errors.New("already answered")

func (g *Gateway) action(sid uuid.UUID, f protocol.ClientFrame) error {
	s, err := g.active(sid)
	if err != nil {
		return err
	}
	msg, err := buildCommand(f, s)
	if err != nil {
		return err
	}
	return g.emit.Send(msg, codecs.NewTrace())
}

func (g *Gateway) changeChannel(sid uuid.UUID, f protocol.ClientFrame) error {
	s, err := g.active(sid)
	if err != nil {
		return err
	}
	var to Address
	switch {
	case f.IPAddress != "" && f.Port != 0:
		to = Address{Host: f.IPAddress, Port: f.Port}
	case f.ChannelID != nil:
		if *f.ChannelID == s.Field.Channel {
			return errors.New("already on that channel")
		}
		a, ok := g.cfg.Directory(*f.ChannelID)
		if !ok {
			return fmt.Errorf("channel %d is not known", *f.ChannelID)
		}
		to = a
	default:
		return errors.New("change_channel needs a channelId, or an ipAddress and a port")
	}
	return g.sessions.RequestChannelChange(sid, to.Host, to.Port, codecs.NewTrace())
}
