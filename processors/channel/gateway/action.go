package gateway

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
)

// reserved are topics the channel produces for itself: a client's entry, channel changes and
// presence are the gateway's to announce, never a client's.
var reserved = map[string]bool{
	"COMMAND_TOPIC_ACCOUNT_SESSION": true,
	"COMMAND_TOPIC_CHANNEL_STATUS":  true,
	"EVENT_TOPIC_SESSION_STATUS":    true,
}

// fill gives a key's value from the session.
type fill func(s sessions.Session) any

var (
	fillWorld     fill = func(s sessions.Session) any { return s.Field.World }
	fillChannel   fill = func(s sessions.Session) any { return s.Field.Channel }
	fillMap       fill = func(s sessions.Session) any { return s.Field.Map }
	fillCharacter fill = func(s sessions.Session) any { return s.CharacterID }
	fillAccount   fill = func(s sessions.Session) any { return s.AccountID }
)

// topFills are the top-level keys the session fills whenever the message has them: where the
// character is and who it is. A client cannot speak for another character.
var topFills = map[string]fill{
	"worldId":     fillWorld,
	"channelId":   fillChannel,
	"mapId":       fillMap,
	"characterId": fillCharacter,
	"actorId":     fillCharacter,
	"observerId":  fillCharacter,
	"accountId":   fillAccount,
}

// bodyFills are the body keys the session fills: the character's location and account (a
// body's characterId is usually another character: the buddy added, the member invited).
var bodyFills = map[string]fill{
	"worldId":   fillWorld,
	"channelId": fillChannel,
	"mapId":     fillMap,
	"accountId": fillAccount,
}

// topicFills adds keys the session fills in one topic only.
var topicFills = map[string]map[string]fill{
	// "objectId and observerId are both the moving character's id."
	"COMMAND_TOPIC_CHARACTER_MOVEMENT": {"objectId": fillCharacter},
}

// clientOwned are filled keys a client may set itself in one type ("TOPIC TYPE key"), because
// the catalog gives them another meaning there; without a client value the session's is used.
var clientOwned = map[string]bool{
	// "For PET the envelope actorId holds the pet id."
	"COMMAND_TOPIC_CHARACTER_CHAT PET actorId": true,
	// "For an expel the envelope characterId is the expelled member, not the actor."
	"COMMAND_TOPIC_GUILD LEAVE characterId": true,
}

// shape is the set of keys a message type writes when its optional fields are unset. Only
// those are filled: optional fields (`since: newer` ones among them) are left out, as the
// contract asks of this project's producers.
type shape struct {
	top, body map[string]bool
}

var (
	shapesOnce sync.Once
	shapes     map[string]shape // "TOPIC TYPE"
)

// shapeOf learns a type's keys by decoding its zero message and encoding it back: the codecs
// write every required key and no unset optional one.
func shapeOf(cat *codecs.CatalogTopic, typ string) (shape, bool) {
	shapesOnce.Do(func() {
		shapes = map[string]shape{}
		for _, t := range codecs.CatalogTopicList() {
			if !t.ProducedBy("channel") {
				continue
			}
			if t.Discriminator == "" {
				shapes[t.Name+" "] = learnShape(t, "{}")
				continue
			}
			for _, ct := range t.Types {
				zero, _ := json.Marshal(map[string]string{t.Discriminator: ct.Value})
				shapes[t.Name+" "+ct.Value] = learnShape(t, string(zero))
			}
		}
	})
	s, ok := shapes[cat.Name+" "+typ]
	return s, ok && s.top != nil
}

func learnShape(t *codecs.CatalogTopic, zero string) shape {
	msg, err := t.Decode([]byte(zero))
	if err != nil {
		return shape{}
	}
	enc, err := t.Codec.Encode(msg)
	if err != nil {
		return shape{}
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(enc, &top) != nil {
		return shape{}
	}
	s := shape{top: keys(top), body: map[string]bool{}}
	var body map[string]json.RawMessage
	if json.Unmarshal(top["body"], &body) == nil {
		s.body = keys(body)
	}
	return s
}

func keys(m map[string]json.RawMessage) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// buildCommand turns an action frame into a catalog message for session s: the client's body
// and fields, the session's identity and location over them, validated by the catalog.
func buildCommand(f protocol.ClientFrame, s sessions.Session) (any, error) {
	cat, ok := codecs.LookupCatalogTopic(f.Topic)
	if !ok || !cat.ProducedBy("channel") || reserved[f.Topic] {
		return nil, fmt.Errorf("topic %.64q is not a command a client may send", f.Topic)
	}
	if cat.Discriminator == "" && (f.Type != "" || len(f.Body) > 0) {
		return nil, fmt.Errorf("%s has no type and no body: give its keys in fields", cat.Name)
	}
	var ct *codecs.CatalogType
	if cat.Discriminator != "" {
		if ct, ok = cat.Type(f.Type); !ok || ct.Newer {
			return nil, fmt.Errorf("%s has no type %.64q this channel produces", cat.Name, f.Type)
		}
	}
	sh, ok := shapeOf(cat, f.Type)
	if !ok {
		return nil, fmt.Errorf("%s %s cannot be produced", cat.Name, f.Type)
	}

	top := map[string]json.RawMessage{}
	for k, v := range f.Fields {
		top[k] = v
	}
	owned := func(key string) bool {
		_, given := top[key]
		return given && clientOwned[cat.Name+" "+f.Type+" "+key]
	}
	fills := map[string]fill{}
	for k, fl := range topFills {
		fills[k] = fl
	}
	for k, fl := range topicFills[cat.Name] {
		fills[k] = fl
	}
	for k, fl := range fills {
		if sh.top[k] && !owned(k) {
			top[k] = mustJSON(fl(s))
		}
	}
	// A transaction id the client did not give is a fresh one, as upstream makes them.
	if sh.top["transactionId"] {
		if _, given := top["transactionId"]; !given {
			top["transactionId"] = mustJSON(uuid.New())
		}
	}

	if ct != nil {
		body := map[string]json.RawMessage{}
		if len(f.Body) > 0 && string(f.Body) != "null" {
			if err := json.Unmarshal(f.Body, &body); err != nil {
				return nil, fmt.Errorf("body is not a JSON object: %v", err)
			}
		}
		for k, fl := range bodyFills {
			if sh.body[k] {
				body[k] = mustJSON(fl(s))
			}
		}
		raw := mustJSON(body)
		if ct.DecodeBody != nil {
			if _, err := ct.DecodeBody(raw); err != nil {
				return nil, fmt.Errorf("body does not fit %s %s: %v", cat.Name, ct.Value, err)
			}
		}
		top[cat.Discriminator] = mustJSON(ct.Value)
		top["body"] = raw
	}
	msg, err := cat.Decode(mustJSON(top))
	if err != nil {
		return nil, fmt.Errorf("message does not fit %s: %v", cat.Name, err)
	}
	return msg, nil
}

// mustJSON encodes values that always encode (numbers, uuids, strings, raw JSON maps).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode %T: %v", v, err))
	}
	return b
}
