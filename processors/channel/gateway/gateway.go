// Package gateway is the client side of a channel: a WebSocket endpoint per channel id that
// speaks the JSON protocol of package protocol. A client enters with an entry ticket from the
// login server (package ticket), then sends actions that become catalog commands, and
// receives the events routed to it.
//
// Each connection has one reading goroutine (frames are handled in order, one at a time), one
// writing goroutine fed by a queue and one pinging goroutine. A frame a client gets wrong is
// answered with an error frame (a stable code and a reason) and changes nothing; it cannot
// reach another session, whose state it never touches. Limits (limits.go) bound how many
// connections, how long before entering, how quiet and how fast a client may be.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/atlasstreams/atlas/processors/tracing"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"
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
	// Tickets checks entry tickets (required): the channel's verify keys and replay memory,
	// shared by the instance's gateways.
	Tickets *ticket.Verifier
	// Capacity bounds the sessions of the channel (0: no bound).
	Capacity uint32
	// SendQueue is how many frames a connection may have queued before it is dropped.
	SendQueue int
	// Limits bound connections, entry time, silence and frame rate (zero fields: defaults).
	Limits Limits
	// Directory resolves change_channel by channel id (this world's channels).
	Directory func(channel uint8) (Address, bool)
	// Ready reports whether the instance consumes its topics; entries wait until it does, or
	// the account service's answer could be missed.
	Ready func() bool
	// OriginPatterns allow browser pages of other origins (see websocket.AcceptOptions).
	OriginPatterns []string
	// Era is the contract era clients' actions are produced in (codecs.EraSeed when empty): a
	// type of the other era is refused.
	Era string
}

// Emitter produces commands (package commands).
type Emitter interface {
	Send(msg any, tr codecs.Trace) error
}

// Gateway serves one channel's clients.
type Gateway struct {
	cfg      Config
	limits   Limits
	sessions *sessions.Manager
	emit     Emitter
	accounts AccountRegistry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*conn]struct{}
}

// New returns the gateway of one channel. It refuses a configuration without a ticket
// verifier: a channel that cannot check who enters admits nobody.
func New(cfg Config, mgr *sessions.Manager, emit Emitter, accounts AccountRegistry) (*Gateway, error) {
	if cfg.Tickets == nil {
		return nil, errors.New("gateway: no ticket verifier (the channel needs verify keys)")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("gateway limits: %w", err)
	}
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
	return &Gateway{cfg: cfg, limits: cfg.Limits.WithDefaults(), sessions: mgr, emit: emit, accounts: accounts,
		ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}}, nil
}

// Serve accepts connections on ln until Shutdown. Give it a runtime.GuardListener, which
// bounds connections and survives running out of file descriptors. Headers must arrive
// within ten seconds, so a socket that never sends a request does not stay either.
func (g *Gateway) Serve(ln net.Listener) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	// The port serves upgrades only: a plain request is answered and its socket closed, so no
	// idle keep-alive connection can sit on a connection slot outside the WebSocket limits.
	srv.SetKeepAlivesEnabled(false)
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
		c.closeAs(closedShutdown, "channel shutting down")
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// Connections is how many WebSocket connections the gateway holds.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// MaxTicketRefusals is how many refused tickets a connection may present before it is
// closed: each costs a signature check, and a player with a real ticket needs one.
const MaxTicketRefusals = 3

// client is what one connection's goroutines share.
type client struct {
	*conn
	mu       sync.Mutex
	sid      uuid.UUID // the session this connection entered, once it did
	refusals int       // refused tickets (the reading goroutine's alone)
}

func (cl *client) session() uuid.UUID {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.sid
}

func (cl *client) setSession(id uuid.UUID) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.sid = id
}

// ServeHTTP upgrades a request to a WebSocket connection and serves it. Only the upgrade is
// served here: /healthz, /readyz and /metrics live on the ops port, never on the client one.
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
	// Frames above the limit get an error frame; only absurd ones end the socket.
	ws.SetReadLimit(16 * int64(g.limits.MaxFrameBytes))
	cl := &client{conn: newConn(ws, g.cfg.SendQueue)}
	cl.remote = r.RemoteAddr
	if !g.track(cl.conn) {
		cl.closeAs(closedShutdown, "channel shutting down")
	}
	defer g.untrack(cl.conn)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); cl.writeLoop() }()
	go g.keepAlive(cl)
	enterTimer := time.AfterFunc(g.limits.EnterTimeout, func() { g.enterDeadline(cl) })
	defer enterTimer.Stop()

	g.readLoop(cl)
	if sid := cl.session(); sid != uuid.Nil {
		g.sessions.Close(sid, "connection closed", codecs.NewTrace())
	}
	cl.closeAs(closedByClient, "connection closed")
	<-writerDone
}

// enterDeadline closes a connection that has not entered by now: no valid ticket yet, or the
// account service has not confirmed the entry.
func (g *Gateway) enterDeadline(cl *client) {
	if sid := cl.session(); sid != uuid.Nil {
		if s, ok := g.sessions.Registry().Get(sid); !ok || s.State != sessions.Pending {
			return // entered (or already gone)
		}
	}
	g.refuse(cl.conn, protocol.Refuse(protocol.CodeEnterTimeout, fmt.Sprintf("no entry within %s", g.limits.EnterTimeout)))
	cl.closeAs(closedEnterLate, "enter timeout")
	if sid := cl.session(); sid != uuid.Nil {
		g.sessions.Close(sid, "entry not confirmed in time", codecs.NewTrace())
	}
}

// keepAlive pings the client until the connection ends; a pong that does not come in time
// closes it. The reading goroutine receives the pongs.
func (g *Gateway) keepAlive(cl *client) {
	t := time.NewTicker(g.limits.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-cl.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.limits.PongTimeout)
		err := cl.ws.Ping(ctx)
		cancel()
		if err != nil {
			select {
			case <-cl.Done():
			default:
				g.refuse(cl.conn, protocol.Refuse(protocol.CodeIdleTimeout, fmt.Sprintf("no pong within %s", g.limits.PongTimeout)))
				cl.closeAs(closedIdle, "idle timeout")
			}
			return
		}
	}
}

// readLoop reads frames until the connection ends. Closing a session closes its connection
// from the writing side (last frames, then the WebSocket close), which ends Read here; the
// read is never cancelled by a context, as that would drop the socket before the last frames.
func (g *Gateway) readLoop(cl *client) {
	frames := rate.NewLimiter(rate.Limit(g.limits.FrameRate), g.limits.FrameBurst)
	strikes := rate.NewLimiter(rate.Limit(g.limits.FrameRate/10), g.limits.StrikeBurst)
	for {
		typ, data, err := cl.ws.Read(context.Background())
		if err != nil {
			return
		}
		if !frames.Allow() {
			if !strikes.Allow() {
				g.refuse(cl.conn, protocol.Refuse(protocol.CodeRateLimited, "sustained frame rate over the limit: closing"))
				cl.closeAs(closedRate, "rate limited")
				return
			}
			g.refuse(cl.conn, protocol.Refuse(protocol.CodeRateLimited, fmt.Sprintf("more than %g frames per second: frame dropped", g.limits.FrameRate)))
			continue
		}
		switch {
		case typ != websocket.MessageText:
			g.refuse(cl.conn, protocol.Refuse(protocol.CodeBadFrame, "frames are JSON text messages"))
		case len(data) > g.limits.MaxFrameBytes:
			g.refuse(cl.conn, protocol.Refuse(protocol.CodeFrameTooLarge, fmt.Sprintf("frame of %d bytes, limit %d", len(data), g.limits.MaxFrameBytes)))
		default:
			g.handleFrame(cl, data)
		}
	}
}

// refuse answers one client with an error frame and counts it by code.
func (g *Gateway) refuse(c *conn, r *protocol.Refusal) {
	errorFrames.WithLabelValues(string(r.Code)).Inc()
	c.Send(protocol.ErrorFrame(r.Code, r.Reason))
}

// track registers a connection for Shutdown; false once shutting down.
func (g *Gateway) track(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx.Err() != nil {
		return false
	}
	g.conns[c] = struct{}{}
	connections.Inc()
	return true
}

func (g *Gateway) untrack(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.conns[c]; ok {
		delete(g.conns, c)
		connections.Dec()
	}
}

// handleFrame handles one client frame. Whatever goes wrong is answered to this client alone.
func (g *Gateway) handleFrame(cl *client, data []byte) {
	defer func() {
		if p := recover(); p != nil {
			logrus.WithField("panic", fmt.Sprint(p)).Error("gateway frame handler panicked")
			g.refuse(cl.conn, protocol.Refuse(protocol.CodeInternal, "internal error"))
		}
	}()
	f, err := protocol.ParseClientFrame(data)
	if err == nil {
		switch f.Op {
		case protocol.OpEnter:
			err = g.enter(cl, f)
		case protocol.OpAction:
			err = g.action(cl.session(), f)
		case protocol.OpChangeChannel:
			err = g.changeChannel(cl.session(), f)
		}
	}
	if err != nil && !errors.Is(err, errAnswered) {
		g.refuse(cl.conn, refusalOf(err))
	}
}

// refusalOf gives the code of an error: its own, a ticket's, or one by kind.
func refusalOf(err error) *protocol.Refusal {
	var r *protocol.Refusal
	if errors.As(err, &r) {
		return r
	}
	if code := ticket.CodeOf(err); code != "" {
		return protocol.Refuse(protocol.Code(code), err.Error())
	}
	switch {
	case errors.Is(err, protocol.ErrDuplicateKey):
		return protocol.Refuse(protocol.CodeDuplicateKey, err.Error())
	case errors.Is(err, protocol.ErrBadFrame):
		return protocol.Refuse(protocol.CodeBadFrame, err.Error())
	case errors.Is(err, sessions.ErrFull):
		return protocol.Refuse(protocol.CodeFull, err.Error())
	case errors.Is(err, sessions.ErrSessionHeld), errors.Is(err, sessions.ErrCharacterHeld):
		return protocol.Refuse(protocol.CodeInUse, err.Error())
	}
	logrus.WithError(err).Warn("gateway: a frame failed")
	return protocol.Refuse(protocol.CodeUnavailable, "the channel cannot do that right now; try again")
}

// enter checks the frame's ticket and, only if it passes, registers a pending session and
// asks the account service for the entry (PROGRESS_STATE 1), whose own transition check still
// applies. A refused ticket produces nothing and is logged without the ticket.
func (g *Gateway) enter(cl *client, f protocol.ClientFrame) error {
	switch {
	case cl.session() != uuid.Nil:
		return protocol.Refuse(protocol.CodeAlreadyEntered, "this connection already entered")
	case !g.cfg.Ready():
		return protocol.Refuse(protocol.CodeStarting, "channel is starting; try again shortly")
	}
	claims, err := g.cfg.Tickets.Verify(f.Ticket, ticket.Expect{
		Tenant: ticket.TenantOf(g.cfg.Tenant), WorldID: g.cfg.World, ChannelID: g.cfg.Channel,
		SessionID: f.SessionID, AccountID: f.AccountID, CharacterID: f.CharacterID,
	})
	usedTickets.Set(float64(g.cfg.Tickets.Remembered()))
	if err != nil {
		refusalLog.Do(func() {
			logrus.WithFields(logrus.Fields{"code": ticket.CodeOf(err), "reason": err.Error(),
				"remote": cl.remote, "channel": g.cfg.Channel}).Info("entry refused")
		})
		if cl.refusals++; cl.refusals >= MaxTicketRefusals {
			g.refuse(cl.conn, refusalOf(err))
			cl.closeAs(closedBadTickets, "too many refused tickets")
			return errAnswered
		}
		return err
	}
	s := sessions.Session{
		ID: claims.SessionID, AccountID: claims.AccountID, CharacterID: claims.CharacterID,
		Field: sessions.Field{World: g.cfg.World, Channel: g.cfg.Channel}, Conn: cl.conn,
	}
	if err := g.sessions.Enter(s, g.cfg.Capacity, codecs.NewTrace()); err != nil {
		// Not entered: the player may try again with the same ticket while it is valid.
		g.cfg.Tickets.Release(claims)
		return err
	}
	entries.Inc()
	cl.setSession(claims.SessionID)
	return nil
}

// refusalLog samples entry refusal logs: a flood of bad tickets is counted in full
// (gateway_error_frames_total) but does not flood the log.
var refusalLog = rate.Sometimes{First: 20, Interval: time.Second}

// active returns the session of an action, checked: entered, active, and its account still
// logged in per the registry. A logged-out account's session is closed.
func (g *Gateway) active(sid uuid.UUID) (sessions.Session, error) {
	if sid == uuid.Nil {
		return sessions.Session{}, protocol.Refuse(protocol.CodeNotEntered, "enter first")
	}
	s, ok := g.sessions.Registry().Get(sid)
	if !ok {
		return s, protocol.Refuse(protocol.CodeNotActive, "session is closed")
	}
	if s.State != sessions.Active {
		return s, protocol.Refuse(protocol.CodeNotActive, fmt.Sprintf("session is %s, not active", s.State))
	}
	in, err := g.accounts.LoggedIn(g.cfg.Tenant, s.AccountID)
	if err != nil {
		logrus.WithError(err).Warn("gateway: the account registry cannot answer")
		return s, protocol.Refuse(protocol.CodeUnavailable, "account registry unavailable; try again")
	}
	if !in {
		if c, ok := s.Conn.(*conn); ok {
			g.refuse(c, protocol.Refuse(protocol.CodeNotLoggedIn, "account is not logged in"))
		}
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
	msg, err := buildCommand(g.era(), f, s)
	if err != nil {
		return err
	}
	// An action starts a trace; the command carries it, and its span is exported under it.
	tr := codecs.NewTrace()
	step := tracing.StartAction(tr, "gateway action", f.Topic, f.Type)
	defer step.End()
	return g.emit.Send(msg, tr)
}

func (g *Gateway) changeChannel(sid uuid.UUID, f protocol.ClientFrame) error {
	s, err := g.active(sid)
	if err != nil {
		return err
	}
	var to Address
	var target *uint8 // the channel moved to, when it is one of this world's (checked)
	switch {
	case f.ChannelID != nil && (f.IPAddress != "" || f.Port != 0):
		return protocol.Refuse(protocol.CodeBadChange, "change_channel takes a channelId or an ipAddress and a port, not both")
	case f.IPAddress != "" && f.Port != 0:
		to = Address{Host: f.IPAddress, Port: f.Port}
	case f.ChannelID != nil:
		if *f.ChannelID == s.Field.Channel {
			return protocol.Refuse(protocol.CodeBadChange, "already on that channel")
		}
		a, ok := g.cfg.Directory(*f.ChannelID)
		if !ok {
			return protocol.Refuse(protocol.CodeBadChange, fmt.Sprintf("channel %d is not known", *f.ChannelID))
		}
		to, target = a, f.ChannelID
	default:
		return protocol.Refuse(protocol.CodeBadChange, "change_channel needs a channelId, or an ipAddress and a port")
	}
	return g.sessions.RequestChannelChange(sid, to.Host, to.Port, target, codecs.NewTrace())
}

func (g *Gateway) era() string {
	if g.cfg.Era == "" {
		return codecs.EraSeed
	}
	return g.cfg.Era
}
