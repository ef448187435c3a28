// Package sessions holds the sessions a channel instance serves: an in-memory registry tied
// to the client connections (registry.go) and the lifecycle of a session, with the account
// and presence messages each step produces (lifecycle.go).
//
// The registry is shared by every partition goroutine of the 20 event processors and by every
// client connection, so all access goes through one RWMutex: routing decisions read under
// the read lock (many at once), membership changes and session entry/exit take the write
// lock for a few map operations. Nothing slow (network, encoding) happens under the lock:
// frames are handed to Conn.Send, which never blocks.
package sessions

import (
	"errors"
	"sort"
	"sync"

	"github.com/google/uuid"
)

// State is where a session is in its life.
type State uint8

const (
	// Pending: the client entered and the channel asked the account service to log the
	// character in; it waits for STATE_CHANGED.
	Pending State = iota
	// Active: the character is in the channel.
	Active
	// Moving: the client was told to reconnect to another channel.
	Moving
)

func (s State) String() string {
	switch s {
	case Pending:
		return "PENDING"
	case Active:
		return "ACTIVE"
	case Moving:
		return "MOVING"
	}
	return "UNKNOWN"
}

// Field is where a character is: world, channel, map and map instance (uuid.Nil for the
// shared, non-instanced map). Map 0 means not known yet.
type Field struct {
	World    uint8
	Channel  uint8
	Map      uint32
	Instance uuid.UUID
}

// Conn is the client connection of a session.
type Conn interface {
	// Send queues a frame and returns at once. false means the connection cannot take it: it
	// is closed, or its queue is full, in which case it closes itself (a client that does not
	// read must not hold back a Kafka partition).
	Send(frame []byte) bool
	// Close sends a last frame with reason and closes the connection. The gateway notices and
	// ends the session; closing twice is harmless.
	Close(reason string)
}

// Session is a copy of one session's registry entry.
type Session struct {
	ID          uuid.UUID
	AccountID   uint32
	CharacterID uint32
	Field       Field
	State       State
	Conn        Conn
}

// Entered reports whether the session takes part in routing: an entry not yet confirmed by
// the account service sees nothing but its own session events.
func (s Session) Entered() bool { return s.State == Active || s.State == Moving }

// Errors of Add.
var (
	ErrSessionHeld   = errors.New("session id already connected to this channel")
	ErrCharacterHeld = errors.New("character already connected to this instance")
	ErrFull          = errors.New("channel is full")
)

// fieldKey indexes sessions by map. The world is the instance's, so it is left out.
type fieldKey struct {
	channel  uint8
	mapID    uint32
	instance uuid.UUID
}

// Registry is the set of sessions of one channel instance (one world).
type Registry struct {
	mu          sync.RWMutex
	byID        map[uuid.UUID]*Session
	byCharacter map[uint32]uuid.UUID
	byAccount   map[uint32]map[uuid.UUID]struct{}
	byField     map[fieldKey]map[uuid.UUID]struct{}
	perChannel  map[uint8]uint32
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		byID:        map[uuid.UUID]*Session{},
		byCharacter: map[uint32]uuid.UUID{},
		byAccount:   map[uint32]map[uuid.UUID]struct{}{},
		byField:     map[fieldKey]map[uuid.UUID]struct{}{},
		perChannel:  map[uint8]uint32{},
	}
}

// Add registers a new session if its channel has fewer than capacity sessions (0: no limit).
func (r *Registry) Add(s Session, capacity uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[s.ID]; ok {
		return ErrSessionHeld
	}
	// A character told to move may come back to another channel of this instance before its
	// old connection is gone: the new session takes the character over.
	if old := r.characterLocked(s.CharacterID); old != nil && old.State != Moving {
		return ErrCharacterHeld
	}
	if capacity > 0 && r.perChannel[s.Field.Channel] >= capacity {
		return ErrFull
	}
	e := s
	r.byID[s.ID] = &e
	r.byCharacter[s.CharacterID] = s.ID
	addTo(r.byAccount, s.AccountID, s.ID)
	r.indexField(&e)
	r.perChannel[s.Field.Channel]++
	return nil
}

// Remove deletes a session and returns what it was; false if it was not held (any more).
func (r *Registry) Remove(id uuid.UUID) (Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok {
		return Session{}, false
	}
	r.unindexField(e)
	removeFrom(r.byAccount, e.AccountID, id)
	if r.byCharacter[e.CharacterID] == id {
		delete(r.byCharacter, e.CharacterID)
	}
	delete(r.byID, id)
	r.perChannel[e.Field.Channel]--
	return *e, true
}

// Transition moves a session from one state to another and returns it; false if the session
// is not held or not in state from. characterID, when not 0, must be the session's.
func (r *Registry) Transition(id uuid.UUID, characterID uint32, from, to State) (Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok || e.State != from || (characterID != 0 && e.CharacterID != characterID) {
		return Session{}, false
	}
	e.State = to
	return *e, true
}

// EnterField puts a character held here into field f, if f is on the session's channel (a
// map change announced for another channel is not ours to apply). It reports whether it did.
func (r *Registry) EnterField(characterID uint32, f Field) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.characterLocked(characterID)
	if e == nil || e.Field.Channel != f.Channel || e.Field.World != f.World {
		return false
	}
	r.unindexField(e)
	e.Field = f
	r.indexField(e)
	return true
}

// LeaveField takes a character out of field f, if that is where it is. Map events of two maps
// arrive on different partitions, so the exit from the old map may come after the entry into
// the new one: an exit from a map the character already left changes nothing.
func (r *Registry) LeaveField(characterID uint32, f Field) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.characterLocked(characterID)
	if e == nil || e.Field != f {
		return false
	}
	r.unindexField(e)
	e.Field.Map, e.Field.Instance = 0, uuid.Nil
	return true
}

// Get returns a session in any state.
func (r *Registry) Get(id uuid.UUID) (Session, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byID[id]
	if !ok {
		return Session{}, false
	}
	return *e, true
}

// Count is the number of sessions on a channel, in any state: each holds a connection.
func (r *Registry) Count(channel uint8) uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.perChannel[channel]
}

// List returns every session, ordered by id (for operators and views).
func (r *Registry) List() []Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Session, 0, len(r.byID))
	for _, e := range r.byID {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out
}

// Read runs fn with a consistent view of the registry, under the read lock: fn must be quick
// and must not call back into the registry.
func (r *Registry) Read(fn func(Snapshot)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(snapshot{r})
}

// Snapshot answers the questions a routing decision asks. Every method but Session returns
// only entered sessions (see Session.Entered).
type Snapshot interface {
	// Session finds a session by id, in any state.
	Session(id uuid.UUID) (Session, bool)
	// Character finds the entered session of a character.
	Character(id uint32) (Session, bool)
	// Account lists the entered sessions of an account.
	Account(id uint32) []Session
	// Field lists the entered sessions in a map instance of a channel.
	Field(channel uint8, mapID uint32, instance uuid.UUID) []Session
	// Map lists the entered sessions in a map on any channel and in any instance.
	Map(mapID uint32) []Session
	// All lists every entered session.
	All() []Session
}

type snapshot struct{ r *Registry }

func (s snapshot) Session(id uuid.UUID) (Session, bool) {
	e, ok := s.r.byID[id]
	if !ok {
		return Session{}, false
	}
	return *e, true
}

func (s snapshot) Character(id uint32) (Session, bool) {
	e := s.r.characterLocked(id)
	if e == nil || !e.Entered() {
		return Session{}, false
	}
	return *e, true
}

func (s snapshot) Account(id uint32) []Session { return s.collect(s.r.byAccount[id]) }

func (s snapshot) Field(channel uint8, mapID uint32, instance uuid.UUID) []Session {
	return s.collect(s.r.byField[fieldKey{channel, mapID, instance}])
}

func (s snapshot) Map(mapID uint32) []Session {
	var out []Session
	for k, ids := range s.r.byField {
		if k.mapID == mapID {
			out = append(out, s.collect(ids)...)
		}
	}
	return out
}

func (s snapshot) All() []Session {
	out := make([]Session, 0, len(s.r.byID))
	for _, e := range s.r.byID {
		if e.Entered() {
			out = append(out, *e)
		}
	}
	return out
}

func (s snapshot) collect(ids map[uuid.UUID]struct{}) []Session {
	var out []Session
	for id := range ids {
		if e := s.r.byID[id]; e != nil && e.Entered() {
			out = append(out, *e)
		}
	}
	return out
}

func (r *Registry) characterLocked(id uint32) *Session {
	sid, ok := r.byCharacter[id]
	if !ok {
		return nil
	}
	return r.byID[sid]
}

// indexField files a session under its map; a session whose map is not known yet is in no
// field.
func (r *Registry) indexField(e *Session) {
	if e.Field.Map == 0 {
		return
	}
	addTo(r.byField, fieldKey{e.Field.Channel, e.Field.Map, e.Field.Instance}, e.ID)
}

func (r *Registry) unindexField(e *Session) {
	if e.Field.Map == 0 {
		return
	}
	removeFrom(r.byField, fieldKey{e.Field.Channel, e.Field.Map, e.Field.Instance}, e.ID)
}

func addTo[K comparable](m map[K]map[uuid.UUID]struct{}, k K, id uuid.UUID) {
	set := m[k]
	if set == nil {
		set = map[uuid.UUID]struct{}{}
		m[k] = set
	}
	set[id] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[uuid.UUID]struct{}, k K, id uuid.UUID) {
	set := m[k]
	delete(set, id)
	if len(set) == 0 {
		delete(m, k)
	}
}
