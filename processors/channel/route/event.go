// Package route decides which sessions of a channel instance an event goes to. It reads only
// the few fields routing needs (Parse, ParseBody), so events of other worlds and channels are
// dropped after a shallow read (Keep), and Decide is a pure function of the event and a
// snapshot of the session registry.
package route

import (
	"encoding/json"
	"fmt"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
)

// Route kinds of the catalog (FORMAT.md, "Type entry").
const (
	Self        = "self"
	Field       = "field"
	FieldOthers = "field_others"
	World       = "world"
	Party       = "party"
	Buddies     = "buddies"
	Guild       = "guild"
	Account     = "account"
	None        = "none"
)

// Event is what routing knows of a consumed event: its catalog entry and type, and the
// envelope fields that say where it happened and whom it concerns. Pointers are nil when the
// message does not carry the key.
type Event struct {
	Topic *codecs.CatalogTopic
	Type  string // discriminator value; "" for a flat message
	Route string
	rule  rule

	World     *uint8
	Channel   *uint8
	Map       *uint32
	Instance  *uuid.UUID
	Character *uint32
	Actor     *uint32
	Account   *uint32
	Session   *uuid.UUID

	rawBody json.RawMessage
	Body    Body
}

// Body holds the body fields routing reads.
type Body struct {
	Character  *uint32  `json:"characterId"`
	Channel    *uint8   `json:"channelId"`
	Map        *uint32  `json:"mapId"`
	Actor      *uint32  `json:"actorId"`
	ActorType  string   `json:"actorType"`
	Controller *uint32  `json:"controllerCharacterId"`
	Recipient  *uint32  `json:"recipient"`
	Recipients []uint32 `json:"recipients"`
}

// head is the envelope as routing reads it. encoding/json skips every other key without
// building values for it.
type head struct {
	Type          *string         `json:"type"`
	Status        *string         `json:"status"`
	WorldID       *uint8          `json:"worldId"`
	ChannelID     *uint8          `json:"channelId"`
	MapID         *uint32         `json:"mapId"`
	Instance      *uuid.UUID      `json:"instance"`
	CharacterID   *uint32         `json:"characterId"`
	ActorID       *uint32         `json:"actorId"`
	AccountID     *uint32         `json:"accountId"`
	SnakeAccount  *uint32         `json:"account_id"` // EVENT_TOPIC_ACCOUNT_STATUS only
	SessionID     *uuid.UUID      `json:"sessionId"`
	Body          json.RawMessage `json:"body"`
	discriminator string
}

// Parse reads the envelope of a record of topic. An unknown type is an error wrapping
// codecs.ErrUnknownType (to be ignored); anything unreadable wraps codecs.ErrMalformed.
func Parse(topic *codecs.CatalogTopic, value []byte) (*Event, error) {
	var h head
	if err := json.Unmarshal(value, &h); err != nil {
		return nil, fmt.Errorf("%s envelope: %w: %v", topic.Name, codecs.ErrMalformed, err)
	}
	ev := &Event{
		Topic: topic, World: h.WorldID, Channel: h.ChannelID, Map: h.MapID, Instance: h.Instance,
		Character: h.CharacterID, Actor: h.ActorID, Account: h.AccountID, Session: h.SessionID,
		rawBody: h.Body, Route: topic.Route,
	}
	if ev.Account == nil {
		ev.Account = h.SnakeAccount
	}
	switch topic.Discriminator {
	case "":
	case "type", "status":
		d := h.Type
		if topic.Discriminator == "status" {
			d = h.Status
		}
		if d == nil {
			return nil, fmt.Errorf("%s: %w: no %q key", topic.Name, codecs.ErrMalformed, topic.Discriminator)
		}
		ct, ok := topic.Type(*d)
		if !ok {
			return nil, fmt.Errorf("%s: %w: %.64q", topic.Name, codecs.ErrUnknownType, *d)
		}
		ev.Type, ev.Route = ct.Value, ct.Route
	default:
		return nil, fmt.Errorf("%s: discriminator %q not supported", topic.Name, topic.Discriminator)
	}
	if ev.Route == "" {
		ev.Route = None
	}
	ev.rule = ruleFor(topic.Name, ev.Type, ev.Route)
	return ev, nil
}

// ParseBody reads the body fields routing needs. It is separate from Parse so that events
// another instance handles are dropped without reading their body.
func (e *Event) ParseBody() error {
	if len(e.rawBody) == 0 || string(e.rawBody) == "null" {
		return nil
	}
	if err := json.Unmarshal(e.rawBody, &e.Body); err != nil {
		return fmt.Errorf("%s %s body: %w: %v", e.Topic.Name, e.Type, codecs.ErrMalformed, err)
	}
	return nil
}

// Scope is what one channel instance serves.
type Scope struct {
	World    uint8
	Channels map[uint8]bool
}

// Keep reports whether the event is for this instance: the same world when it names one, and
// one of its channels when the route is bound to a field and the event names a channel.
func (e *Event) Keep(s Scope) bool {
	if e.World != nil && *e.World != s.World {
		return false
	}
	if (e.Route == Field || e.Route == FieldOthers) && e.Channel != nil && !s.Channels[*e.Channel] {
		return false
	}
	return true
}
