package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
)

// sessionValue gives a key's value from the session.
func sessionValue(v codecs.SessionValue, s sessions.Session) any {
	switch v {
	case codecs.SessionCharacter:
		return s.CharacterID
	case codecs.SessionAccount:
		return s.AccountID
	case codecs.SessionWorld:
		return s.Field.World
	case codecs.SessionChannel:
		return s.Field.Channel
	case codecs.SessionMap:
		return s.Field.Map
	case codecs.SessionInstance:
		return s.Field.Instance
	}
	panic(fmt.Sprintf("gateway: session value %d has no source", v))
}

// shape is the set of keys a message type writes when its optional fields are unset. Only
// those, and the contract era's optional keys the policy lists, may come from a client:
// `since: newer` fields are left out, as the contract asks of this project's producers.
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

// withCurrentKeys is the shape plus the keys current upstream always writes in the type: those
// the policy fills from the session (instance, mapId) are then filled, and the codec's
// FillCurrent gives the rest their zero values (a transaction id only the current era writes
// is the nil uuid of an uncorrelated message).
func (s shape) withCurrentKeys(cat *codecs.CatalogTopic, ct *codecs.CatalogType) shape {
	keys := cat.CurrentKeys
	if ct != nil {
		keys = ct.CurrentKeys
	}
	if len(keys) == 0 {
		return s
	}
	out := shape{top: maps.Clone(s.top), body: maps.Clone(s.body)}
	for _, k := range keys {
		if b, inBody := strings.CutPrefix(k, "body."); inBody {
			out.body[b] = true
		} else {
			out.top[k] = true
		}
	}
	return out
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

func badAction(format string, args ...any) error {
	return protocol.Refuse(protocol.CodeBadAction, fmt.Sprintf(format, args...))
}

// buildCommand turns an action frame into a catalog message for session s. The client policy
// (codecs.ClientPolicyFor, default deny) decides whether a client may send the type at all;
// the client gives only keys of the type (no unknown key, no case variant); the session's
// identity and location are written over every key the policy names; the catalog validates
// the result.
func buildCommand(era string, f protocol.ClientFrame, s sessions.Session) (any, error) {
	cat, ok := codecs.LookupCatalogTopic(f.Topic)
	if !ok || !cat.ProducedBy("channel") || !cat.InEra(era) {
		return nil, badAction("topic %.64q is not a command topic of the channel", f.Topic)
	}
	if cat.Discriminator == "" && (f.Type != "" || len(f.Body) > 0) {
		return nil, badAction("%s has no type and no body: give its keys in fields", cat.Name)
	}
	var ct *codecs.CatalogType
	if cat.Discriminator != "" {
		if ct, ok = cat.Type(f.Type); !ok || !ct.Produced(era) {
			return nil, badAction("%s has no type %.64q this channel produces", cat.Name, f.Type)
		}
	}
	pol := codecs.ClientPolicyFor(cat.Name, f.Type)
	if !pol.Allowed {
		return nil, protocol.Refuse(protocol.CodeNotAllowed, fmt.Sprintf("%s %s is server-only: %s", cat.Name, f.Type, pol.Reason))
	}
	sh, ok := shapeOf(cat, f.Type)
	if !ok {
		return nil, badAction("%s %s cannot be produced", cat.Name, f.Type)
	}
	// What the message carries: the shape, and in the current era the keys current upstream
	// always writes. The client may give only keys of the shape: the current keys are filled
	// from the session, fresh, or zero, never taken from a client.
	fill := sh
	if era == codecs.EraCurrent {
		fill = sh.withCurrentKeys(cat, ct)
	}
	optional := map[string]bool{}
	for _, p := range pol.Optional {
		optional[p] = true
	}

	top := map[string]json.RawMessage{}
	for k, v := range f.Fields {
		if k == cat.Discriminator || k == "body" || !(sh.top[k] || optional[k]) {
			return nil, badAction("fields: %.64q is not a key of %s %s", k, cat.Name, f.Type)
		}
		top[k] = v
	}
	body := map[string]json.RawMessage{}
	if ct != nil && len(f.Body) > 0 && string(f.Body) != "null" {
		if err := json.Unmarshal(f.Body, &body); err != nil {
			return nil, badAction("body is not a JSON object: %v", err)
		}
		for k := range body {
			if !(sh.body[k] || optional["body."+k]) {
				return nil, badAction("body: %.64q is not a key of %s %s", k, cat.Name, f.Type)
			}
		}
	}
	if err := checkRequire(pol.Require, top, body); err != nil {
		return nil, err
	}
	if err := checkValues(pol.Values, top, body); err != nil {
		return nil, err
	}
	// Who acts and where is the session's: written over the client's value where the type has
	// the key, removed where it is optional.
	for path, v := range pol.Session {
		dst, key, has := top, path, fill.top
		if k, inBody := strings.CutPrefix(path, "body."); inBody {
			dst, key, has = body, k, fill.body
		}
		if has[key] {
			dst[key] = mustJSON(sessionValue(v, s))
		} else {
			delete(dst, key)
		}
	}
	if d, ok := derived[cat.Name+" "+f.Type]; ok {
		d(body, s)
	}
	// A transaction id of the type's own shape is always a fresh one, as upstream makes them:
	// a client reusing another transaction's id could interfere with it.
	if sh.top["transactionId"] {
		top["transactionId"] = mustJSON(uuid.New())
	}
	if ct != nil {
		raw := mustJSON(body)
		if ct.DecodeBody != nil {
			if _, err := ct.DecodeBody(raw); err != nil {
				return nil, badAction("body does not fit %s %s: %v", cat.Name, ct.Value, err)
			}
		}
		top[cat.Discriminator] = mustJSON(ct.Value)
		top["body"] = raw
	}
	msg, err := cat.Decode(mustJSON(top))
	if err != nil {
		return nil, badAction("message does not fit %s: %v", cat.Name, err)
	}
	return msg, nil
}

// derived fill keys that current upstream's readers need and a seed-shape action leaves out.
// Both are superset fields (seed readers ignore them), so they are written in both eras.
var derived = map[string]func(body map[string]json.RawMessage, s sessions.Session){
	// Current party services remove body.characterId: without it a leave would remove nobody.
	// A leave (force false) is the actor's own. A client cannot give the key, so an expel
	// names nobody: the seed's expel has no target either.
	"COMMAND_TOPIC_PARTY LEAVE": func(body map[string]json.RawMessage, s sessions.Session) {
		if string(body["force"]) != "true" {
			body["characterId"] = mustJSON(s.CharacterID)
		}
	},
	// Current monster services read the hits of an attack from damages; one hit per message.
	"COMMAND_TOPIC_MONSTER DAMAGE": func(body map[string]json.RawMessage, _ sessions.Session) {
		if d, ok := body["damage"]; ok {
			body["damages"] = json.RawMessage("[" + string(d) + "]")
		}
	},
}

// checkRequire refuses a command whose key does not hold the value the policy requires; an
// absent key holds its zero value.
func checkRequire(req map[string]string, top, body map[string]json.RawMessage) error {
	for path, want := range req {
		got, given := valueAt(path, top, body)
		if !given {
			if isZeroJSON(want) {
				continue
			}
			return protocol.Refuse(protocol.CodeNotAllowed, fmt.Sprintf("%s must be %s", path, want))
		}
		var compact bytes.Buffer
		if json.Compact(&compact, got) != nil || compact.String() != want {
			return protocol.Refuse(protocol.CodeNotAllowed, fmt.Sprintf("%s must be %s for a client", path, want))
		}
	}
	return nil
}

// checkValues refuses a given value outside the catalog's closed set for its key.
func checkValues(sets map[string][]string, top, body map[string]json.RawMessage) error {
	for path, allowed := range sets {
		got, given := valueAt(path, top, body)
		if !given {
			continue // the codec writes the zero value, which the service reads as none
		}
		var compact bytes.Buffer
		if json.Compact(&compact, got) != nil || !slices.Contains(allowed, compact.String()) {
			return badAction("%s must be one of %s", path, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// valueAt reads a key path ("characterId", "body.force") of the message being built.
func valueAt(path string, top, body map[string]json.RawMessage) (json.RawMessage, bool) {
	if k, inBody := strings.CutPrefix(path, "body."); inBody {
		v, ok := body[k]
		return v, ok
	}
	v, ok := top[path]
	return v, ok
}

func isZeroJSON(v string) bool {
	switch v {
	case "false", "0", `""`, "null":
		return true
	}
	return false
}

// mustJSON encodes values that always encode (numbers, uuids, strings, raw JSON maps).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode %T: %v", v, err))
	}
	return b
}
