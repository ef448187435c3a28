package events

import (
	"sync"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
)

// Where is the channel session of a character somewhere in the world.
type Where struct {
	SessionID uuid.UUID
	ChannelID uint8
}

// Presence is which character is on which channel anywhere in the instance's world, from the
// SESSION_STATUS events of every channel (this one's included). It only answers questions;
// nothing is routed by it.
type Presence struct {
	mu    sync.RWMutex
	where map[uint32]Where
}

// NewPresence returns an empty presence table.
func NewPresence() *Presence { return &Presence{where: map[uint32]Where{}} }

// Of returns where a character is connected.
func (p *Presence) Of(characterID uint32) (Where, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	w, ok := p.where[characterID]
	return w, ok
}

// Len is the number of characters connected to a channel of the world.
func (p *Presence) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.where)
}

// created records a channel session; login-server sessions (no character) are not presence.
func (p *Presence) created(m *codecs.SessionStatusEvent) {
	if m.CharacterID == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.where[m.CharacterID] = Where{SessionID: m.SessionID, ChannelID: m.ChannelID}
}

// destroyed forgets a session; a DESTROYED of an older session (the character already
// reconnected elsewhere) leaves the newer one.
func (p *Presence) destroyed(m *codecs.SessionStatusEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.where[m.CharacterID]; ok && w.SessionID == m.SessionID {
		delete(p.where, m.CharacterID)
	}
}
