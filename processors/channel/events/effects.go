package events

import (
	"encoding/json"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/route"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// effectContext is one kept, decoded event.
type effectContext struct {
	h     *Handler
	ev    *route.Event
	msg   any // the catalog's decoded message (a pointer)
	trace codecs.Trace
}

// effect changes the instance's state for one event type. before runs ahead of delivery (a
// character entering a map is part of the field that sees it enter), after runs once the
// event was delivered (a session that is closed still gets the event that closes it).
type effect struct {
	before, after func(effectContext)
}

// effects are keyed "TOPIC TYPE".
var effects = map[string]effect{
	"EVENT_TOPIC_CHARACTER_STATUS MAP_CHANGED":         {before: mapChanged},
	"EVENT_TOPIC_MAP_STATUS CHARACTER_ENTER":           {before: characterEnter},
	"EVENT_TOPIC_MAP_STATUS CHARACTER_EXIT":            {after: characterExit},
	"EVENT_TOPIC_SESSION_STATUS CREATED":               {after: presenceCreated},
	"EVENT_TOPIC_SESSION_STATUS DESTROYED":             {after: sessionDestroyed},
	"EVENT_TOPIC_ACCOUNT_SESSION_STATUS STATE_CHANGED": {before: entryCompleted, after: moveRequested},
	"EVENT_TOPIC_ACCOUNT_SESSION_STATUS ERROR":         {after: sessionRefused},
}

func instanceOrNil(p *uuid.UUID) uuid.UUID {
	if p == nil {
		return uuid.Nil
	}
	return *p
}

// mapChanged moves the character's session to the target map, on the channel the event names.
func mapChanged(c effectContext) {
	m, ok := c.msg.(*codecs.CharacterStatusEvent)
	if !ok {
		return
	}
	b, ok := m.Body.(*codecs.CharacterStatusEventMapChangedBody)
	if !ok {
		return
	}
	c.h.Sessions.Registry().EnterField(m.CharacterID, sessions.Field{
		World: m.WorldID, Channel: b.ChannelID, Map: b.TargetMapID, Instance: instanceOrNil(b.TargetInstance),
	})
}

func mapField(m *codecs.MapStatusEvent) sessions.Field {
	return sessions.Field{World: m.WorldID, Channel: m.ChannelID, Map: m.MapID, Instance: instanceOrNil(m.Instance)}
}

func characterEnter(c effectContext) {
	if m, ok := c.msg.(*codecs.MapStatusEvent); ok {
		if b, ok := m.Body.(*codecs.MapStatusEventCharacterEnterBody); ok {
			c.h.Sessions.Registry().EnterField(b.CharacterID, mapField(m))
		}
	}
}

func characterExit(c effectContext) {
	if m, ok := c.msg.(*codecs.MapStatusEvent); ok {
		if b, ok := m.Body.(*codecs.MapStatusEventCharacterExitBody); ok {
			c.h.Sessions.Registry().LeaveField(b.CharacterID, mapField(m))
		}
	}
}

func presenceCreated(c effectContext) {
	if m, ok := c.msg.(*codecs.SessionStatusEvent); ok {
		c.h.Presence.created(m)
	}
}

// sessionDestroyed closes a session held here that someone else destroyed. The DESTROYED this
// instance wrote itself (issuer CHANNEL, one of its channels) comes back here too; it is
// skipped, or a client that reconnected with the same session id would be closed by the echo
// of its previous connection.
func sessionDestroyed(c effectContext) {
	m, ok := c.msg.(*codecs.SessionStatusEvent)
	if !ok {
		return
	}
	c.h.Presence.destroyed(m)
	if m.Issuer == sessions.Author && c.h.Scope.Channels[m.ChannelID] {
		return
	}
	c.h.Sessions.Close(m.SessionID, "session destroyed", c.trace)
}

// sessionParams is every shape STATE_CHANGED params take; the channel tells them apart by
// which keys are set, not by state.
type sessionParams struct {
	CharacterID uint32 `json:"characterId"`
	IPAddress   string `json:"ipAddress"`
	Port        uint16 `json:"port"`
}

func stateChanged(c effectContext) (*codecs.AccountSessionStatusEvent, sessionParams, bool) {
	var p sessionParams
	m, ok := c.msg.(*codecs.AccountSessionStatusEvent)
	if !ok {
		return nil, p, false
	}
	b, ok := m.Body.(*codecs.AccountSessionStatusEventStateChangedBody)
	if !ok || len(b.Params) == 0 {
		return nil, p, false
	}
	if err := json.Unmarshal(b.Params, &p); err != nil {
		// params is opaque to the account service; a shape the channel does not know is not
		// an answer to anything it asked.
		logrus.WithError(err).WithField("session", m.SessionID.String()).Debug("STATE_CHANGED params not understood")
		return nil, p, false
	}
	return m, p, true
}

// entryCompleted activates the pending session the login was for.
func entryCompleted(c effectContext) {
	m, p, ok := stateChanged(c)
	if ok && p.IPAddress == "" && p.CharacterID > 0 {
		c.h.Sessions.Complete(m.SessionID, p.CharacterID, c.trace)
	}
}

// moveRequested tells the client of a session in transition where to reconnect.
func moveRequested(c effectContext) {
	m, p, ok := stateChanged(c)
	if ok && p.IPAddress != "" {
		c.h.Sessions.Move(m.SessionID, p.IPAddress, p.Port)
	}
}

// sessionRefused closes a session the account service refused.
func sessionRefused(c effectContext) {
	m, ok := c.msg.(*codecs.AccountSessionStatusEvent)
	if !ok {
		return
	}
	b, ok := m.Body.(*codecs.AccountSessionStatusEventErrorBody)
	if !ok {
		return
	}
	if s, held := c.h.Sessions.Registry().Get(m.SessionID); held {
		s.Conn.Send(protocol.ErrorFrame(protocol.CodeAccountRefused, "account service refused the session: "+b.Code))
		c.h.Sessions.Close(m.SessionID, "account service: "+b.Code, c.trace)
	}
}
