// Package protocol is the JSON protocol of the channel's client gateway: one JSON object per
// WebSocket text message, selected by "op". README.md in the parent folder documents it for
// client authors; this file is its single definition, shared by the gateway and `atlas client`.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Operations a client sends.
const (
	// OpEnter binds the connection to the session an entry ticket names and asks the account
	// service to log the character in on this channel.
	OpEnter = "enter"
	// OpAction produces one command of the catalog, its envelope filled from the session.
	OpAction = "action"
	// OpChangeChannel asks to move the session to another channel.
	OpChangeChannel = "change_channel"
)

// Operations the gateway sends.
const (
	// OpEntered: the account service accepted the entry; the session is active.
	OpEntered = "entered"
	// OpEvent carries one consumed event routed to this session.
	OpEvent = "event"
	// OpMove tells the client to reconnect to another channel's address.
	OpMove = "move"
	// OpError answers a frame that was refused; nothing changed because of it.
	OpError = "error"
	// OpClosed is the last frame before the gateway closes the connection.
	OpClosed = "closed"
)

// MaxFrameBytes bounds a client frame. Commands are small; a bigger frame is refused before it
// is parsed.
const MaxFrameBytes = 64 << 10

// ClientFrame is any frame a client sends. Which fields are used depends on Op.
type ClientFrame struct {
	Op string `json:"op"`

	// enter: Ticket is the entry ticket from the login server (package ticket). The ids are
	// optional; given, they must equal the ticket's.
	Ticket      string    `json:"ticket,omitempty"`
	SessionID   uuid.UUID `json:"sessionId,omitempty"`
	AccountID   uint32    `json:"accountId,omitempty"`
	CharacterID uint32    `json:"characterId,omitempty"`

	// action: Topic is a catalog topic name (its env name, e.g. COMMAND_TOPIC_CHARACTER_CHAT),
	// Type its discriminator value ("" for a flat topic), Body the type's body and Fields any
	// top-level keys the session does not provide (e.g. portalId, objectId, a flat topic's
	// fields).
	Topic  string                     `json:"topic,omitempty"`
	Type   string                     `json:"type,omitempty"`
	Body   json.RawMessage            `json:"body,omitempty"`
	Fields map[string]json.RawMessage `json:"fields,omitempty"`

	// change_channel: a channel id of this world, or an explicit address.
	ChannelID *uint8 `json:"channelId,omitempty"`
	IPAddress string `json:"ipAddress,omitempty"`
	Port      uint16 `json:"port,omitempty"`
}

// ErrBadFrame wraps every reason ParseClientFrame refuses a frame.
var ErrBadFrame = errors.New("bad frame")

// ParseClientFrame decodes one client frame strictly: unknown keys are refused, so a typo
// gets an error frame instead of being silently ignored, and so is a key given twice anywhere
// in the frame, case variants included (ErrDuplicateKey).
func ParseClientFrame(b []byte) (ClientFrame, error) {
	var f ClientFrame
	if len(b) > MaxFrameBytes {
		return f, fmt.Errorf("%w: %d bytes, limit %d", ErrBadFrame, len(b), MaxFrameBytes)
	}
	if err := CheckKeys(b); err != nil {
		return f, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return ClientFrame{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if dec.More() {
		return ClientFrame{}, fmt.Errorf("%w: more than one JSON value", ErrBadFrame)
	}
	switch f.Op {
	case OpEnter, OpAction, OpChangeChannel:
		return f, nil
	case "":
		return ClientFrame{}, fmt.Errorf("%w: no op", ErrBadFrame)
	}
	return ClientFrame{}, fmt.Errorf("%w: unknown op %q", ErrBadFrame, clip(f.Op))
}

// Entered is sent once the account service confirmed the entry.
type Entered struct {
	Op          string    `json:"op"`
	SessionID   uuid.UUID `json:"sessionId"`
	AccountID   uint32    `json:"accountId"`
	CharacterID uint32    `json:"characterId"`
	WorldID     uint8     `json:"worldId"`
	ChannelID   uint8     `json:"channelId"`
}

// Event is one consumed event, as it was on the topic.
type Event struct {
	Op      string          `json:"op"`
	Topic   string          `json:"topic"`
	Type    string          `json:"type,omitempty"`
	Message json.RawMessage `json:"message"`
}

// Move tells the client where to reconnect (a channel change), with the entry ticket for it
// when this channel can mint one (a transfer key); without it the client logs in again.
type Move struct {
	Op        string `json:"op"`
	IPAddress string `json:"ipAddress"`
	Port      uint16 `json:"port"`
	Ticket    string `json:"ticket,omitempty"`
}

// Error refuses one client frame, or reports why the session is about to close. Code is
// stable (codes.go, and TICKET_* for entry tickets); Reason is for people.
type Error struct {
	Op     string `json:"op"`
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// Closed is the last frame of a session.
type Closed struct {
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// ServerFrame is any frame the gateway sends, as a client decodes it.
type ServerFrame struct {
	Op          string          `json:"op"`
	SessionID   uuid.UUID       `json:"sessionId,omitempty"`
	AccountID   uint32          `json:"accountId,omitempty"`
	CharacterID uint32          `json:"characterId,omitempty"`
	WorldID     uint8           `json:"worldId,omitempty"`
	ChannelID   uint8           `json:"channelId,omitempty"`
	Topic       string          `json:"topic,omitempty"`
	Type        string          `json:"type,omitempty"`
	Message     json.RawMessage `json:"message,omitempty"`
	IPAddress   string          `json:"ipAddress,omitempty"`
	Port        uint16          `json:"port,omitempty"`
	Ticket      string          `json:"ticket,omitempty"`
	Code        Code            `json:"code,omitempty"`
	Reason      string          `json:"reason,omitempty"`
}

// ParseServerFrame decodes a frame the gateway sent, leniently: a client keeps working when
// a newer gateway adds keys.
func ParseServerFrame(b []byte) (ServerFrame, error) {
	var f ServerFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return ServerFrame{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return f, nil
}

// Marshal encodes a server frame. The frame types hold only JSON-safe fields, so an error
// means a programming mistake; it is returned rather than hidden.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// ErrorFrame builds an error frame.
func ErrorFrame(code Code, reason string) []byte {
	b, _ := json.Marshal(Error{Op: OpError, Code: code, Reason: reason}) // strings always encode
	return b
}

// ClosedFrame builds the closing frame.
func ClosedFrame(reason string) []byte {
	b, _ := json.Marshal(Closed{Op: OpClosed, Reason: reason})
	return b
}

// EventFrame wraps a consumed record value. message must be valid JSON (it was decoded by the
// catalog before it gets here).
func EventFrame(topic, typ string, message []byte) ([]byte, error) {
	return json.Marshal(Event{Op: OpEvent, Topic: topic, Type: typ, Message: message})
}

// clip keeps client-provided text short before it goes back into a reason or a log line.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
