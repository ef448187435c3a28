// Package channeltest has the test doubles of the channel's packages: a client connection
// that records its frames, an emitter that records messages, an account registry the test
// sets, and helpers to build sessions and events.
package channeltest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/commands"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Tenant is the tenant of the tests' instance; Other is another one.
var (
	Tenant = codecs.Tenant{ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Region: "GMS", Major: 83, Minor: 1}
	Other  = codecs.Tenant{ID: uuid.MustParse("99999999-2222-4333-8444-555555555555"), Region: "GMS", Major: 83, Minor: 1}
)

// Conn records the frames sent to a session.
type Conn struct {
	mu     sync.Mutex
	frames []protocol.ServerFrame
	closed string
}

// Send implements sessions.Conn.
func (c *Conn) Send(frame []byte) bool {
	var f protocol.ServerFrame
	if err := json.Unmarshal(frame, &f); err != nil {
		panic(fmt.Sprintf("frame is not JSON: %s", frame))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != "" {
		return false
	}
	c.frames = append(c.frames, f)
	return true
}

// Close implements sessions.Conn.
func (c *Conn) Close(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == "" {
		c.closed = reason
	}
}

// Take returns the frames recorded since the last Take.
func (c *Conn) Take() []protocol.ServerFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.frames
	c.frames = nil
	return f
}

// Closed is the close reason, "" while open.
func (c *Conn) Closed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Emitter records messages after encoding them as the real emitter would, in the contract
// era Era (seed when empty).
type Emitter struct {
	Era     string
	mu      sync.Mutex
	records []commands.Record
}

// Send implements the emitter interfaces.
func (e *Emitter) Send(msg any, tr codecs.Trace) error {
	era := e.Era
	if era == "" {
		era = codecs.EraSeed
	}
	rec, err := commands.Encode(era, Tenant, msg, tr)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.records = append(e.records, rec)
	return nil
}

// Take returns the records produced since the last Take.
func (e *Emitter) Take() []commands.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.records
	e.records = nil
	return r
}

// Len is the number of records not taken yet.
func (e *Emitter) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.records)
}

// Summary renders records as "TOPIC TYPE" lines.
func Summary(recs []commands.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Catalog + " " + r.Type
	}
	return out
}

// Accounts is an account registry the test controls; accounts are logged in unless set.
type Accounts struct {
	mu  sync.Mutex
	out map[uint32]bool
	err error
}

// LoggedIn implements gateway.AccountRegistry.
func (a *Accounts) LoggedIn(t codecs.Tenant, id uint32) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return false, a.err
	}
	return t == Tenant && !a.out[id], nil
}

// SetErr makes every question fail with err (nil: answer again).
func (a *Accounts) SetErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

// SetLoggedOut marks an account logged out.
func (a *Accounts) SetLoggedOut(id uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.out == nil {
		a.out = map[uint32]bool{}
	}
	a.out[id] = true
}

// Player is a session added to a registry for a test, with its recording connection.
type Player struct {
	sessions.Session
	Conn *Conn
}

// AddPlayer registers an active session of character in field f (account = character + 1000).
func AddPlayer(t testing.TB, reg *sessions.Registry, character uint32, f sessions.Field) *Player {
	t.Helper()
	c := &Conn{}
	s := sessions.Session{ID: uuid.New(), AccountID: character + 1000, CharacterID: character, Field: f, Conn: c}
	require.NoError(t, reg.Add(s, 0))
	s, ok := reg.Transition(s.ID, character, sessions.Pending, sessions.Active)
	require.True(t, ok)
	return &Player{Session: s, Conn: c}
}
