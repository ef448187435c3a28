package sessions

import (
	"encoding/json"
	"fmt"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// Emitter produces one command or event of the catalog (see package commands).
type Emitter interface {
	Send(msg any, tr codecs.Trace) error
}

// Author is the issuer this service writes into account session commands.
const Author = "CHANNEL"

// Manager runs the life of sessions: entry, completion, channel change and close, each with
// the messages the contract asks for. Every step is safe to repeat: only the call that changes
// the registry produces anything, so a redelivered event or a close racing with another close
// yields its messages once.
type Manager struct {
	reg  *Registry
	emit Emitter
	// MoveTicket, when set, mints the entry ticket a moving client presents to the channel at
	// ip:port ("" and an error when it cannot: the client then goes back to the login server).
	MoveTicket func(s Session, ip string, port uint16) (string, error)
	// Era is the contract era (codecs.EraSeed when empty): in the current one a channel change
	// is announced to the maps service first.
	Era string
}

// NewManager manages the sessions of reg and produces through emit.
func NewManager(reg *Registry, emit Emitter) *Manager {
	return &Manager{reg: reg, emit: emit}
}

// Registry is the registry the manager changes.
func (m *Manager) Registry() *Registry { return m.reg }

// Enter registers a pending session and asks the account service to log the character in on
// this channel (PROGRESS_STATE 1 {characterId}). STATE_CHANGED completes it (Complete).
func (m *Manager) Enter(s Session, capacity uint32, tr codecs.Trace) error {
	s.State = Pending
	if err := m.reg.Add(s, capacity); err != nil {
		return err
	}
	params, err := json.Marshal(codecs.ChannelSetFieldParams{CharacterID: s.CharacterID})
	if err == nil {
		err = m.emit.Send(&codecs.AccountSessionCommand{
			SessionID: s.ID, AccountID: s.AccountID, Author: Author,
			Type: codecs.AccountSessionCommandTypeProgressState,
			Body: &codecs.AccountSessionCommandProgressStateBody{State: 1, Params: params},
		}, tr)
	}
	if err != nil {
		// Nothing was asked of the account service, so nothing is to be undone there.
		m.reg.Remove(s.ID)
		return fmt.Errorf("ask the account service: %w", err)
	}
	return nil
}

// Complete activates a pending session whose login the account service confirmed, tells the
// client, and announces the session (SESSION_STATUS CREATED). false: no such pending session
// of that character here.
func (m *Manager) Complete(id uuid.UUID, characterID uint32, tr codecs.Trace) bool {
	s, ok := m.reg.Transition(id, characterID, Pending, Active)
	if !ok {
		return false
	}
	if frame, err := protocol.Marshal(protocol.Entered{
		Op: protocol.OpEntered, SessionID: s.ID, AccountID: s.AccountID, CharacterID: s.CharacterID,
		WorldID: s.Field.World, ChannelID: s.Field.Channel,
	}); err == nil {
		s.Conn.Send(frame)
	}
	m.send(m.presence(s, codecs.SessionStatusEventTypeCreated), tr)
	return true
}

// RequestChannelChange asks the account service to put an active session in transition
// toward another channel (PROGRESS_STATE 2 {ipAddress, port}). STATE_CHANGED answers it (Move).
func (m *Manager) RequestChannelChange(id uuid.UUID, ip string, port uint16, target *uint8, tr codecs.Trace) error {
	s, ok := m.reg.Get(id)
	if !ok || s.State != Active {
		return fmt.Errorf("session is not active")
	}
	params, err := json.Marshal(codecs.ChannelChangeParams{IPAddress: ip, Port: port})
	if err != nil {
		return err
	}
	if m.Era == codecs.EraCurrent && target != nil {
		// Current upstream's maps service answers this with CHARACTER_STATUS CHANNEL_CHANGED,
		// which its buddy and party services follow. A change to a bare address names no
		// channel, so nothing is announced for it.
		if err := m.emit.Send(&codecs.CharacterChannelChangeRequestCommand{
			TransactionID: uuid.New(), CharacterID: s.CharacterID, WorldID: s.Field.World,
			OldChannelID: s.Field.Channel, TargetChannelID: *target,
		}, tr); err != nil {
			return err
		}
	}
	return m.emit.Send(&codecs.AccountSessionCommand{
		SessionID: s.ID, AccountID: s.AccountID, Author: Author,
		Type: codecs.AccountSessionCommandTypeProgressState,
		Body: &codecs.AccountSessionCommandProgressStateBody{State: 2, Params: params},
	}, tr)
}

// Move tells the client of an active session to reconnect to ip:port. The session stays until
// the client leaves; its account is in transition, so the LOGOUT its close produces is
// refused or finds nothing, and the new channel's login goes through.
func (m *Manager) Move(id uuid.UUID, ip string, port uint16) bool {
	s, ok := m.reg.Transition(id, 0, Active, Moving)
	if !ok {
		return false
	}
	move := protocol.Move{Op: protocol.OpMove, IPAddress: ip, Port: port}
	if m.MoveTicket != nil {
		t, err := m.MoveTicket(s, ip, port)
		if err != nil {
			logrus.WithError(err).WithField("session", s.ID.String()).Warn("no ticket for the channel change; the client must log in again")
		}
		move.Ticket = t
	}
	if frame, err := protocol.Marshal(move); err == nil {
		s.Conn.Send(frame)
	}
	return true
}

// Close ends a session: it leaves the registry, its connection is closed with reason, and the
// account service (LOGOUT) and the world (SESSION_STATUS DESTROYED) are told. false: the
// session was not held (already closed).
func (m *Manager) Close(id uuid.UUID, reason string, tr codecs.Trace) bool {
	s, ok := m.reg.Remove(id)
	if !ok {
		return false
	}
	s.Conn.Close(reason)
	m.send(&codecs.AccountSessionCommand{
		SessionID: s.ID, AccountID: s.AccountID, Author: Author,
		Type: codecs.AccountSessionCommandTypeLogout, Body: &codecs.AccountSessionCommandLogoutBody{},
	}, tr)
	m.send(m.presence(s, codecs.SessionStatusEventTypeDestroyed), tr)
	logrus.WithFields(logrus.Fields{
		"session": s.ID.String(), "account": s.AccountID, "character": s.CharacterID,
		"channel": s.Field.Channel, "reason": reason,
	}).Info("session closed")
	return true
}

// CloseAll closes every session (shutdown).
func (m *Manager) CloseAll(reason string) {
	for _, s := range m.reg.List() {
		m.Close(s.ID, reason, codecs.NewTrace())
	}
}

func (m *Manager) presence(s Session, typ string) *codecs.SessionStatusEvent {
	return &codecs.SessionStatusEvent{
		SessionID: s.ID, AccountID: s.AccountID, CharacterID: s.CharacterID,
		WorldID: s.Field.World, ChannelID: s.Field.Channel, Issuer: Author, Type: typ,
	}
}

// send produces a message whose failure cannot be answered to anyone: it is logged (the
// emitter counts it too).
func (m *Manager) send(msg any, tr codecs.Trace) {
	if err := m.emit.Send(msg, tr); err != nil {
		logrus.WithError(err).WithField("message", fmt.Sprintf("%T", msg)).Error("could not produce")
	}
}
