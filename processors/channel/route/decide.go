package route

import (
	"sort"

	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
)

// Decide returns the sessions of snap the event goes to, each once, ordered by session id. It
// reads nothing but its arguments. ParseBody must have been called.
func Decide(e *Event, snap sessions.Snapshot) []sessions.Session {
	r := e.rule
	var out []sessions.Session
	switch e.Route {
	case Self:
		if e.Session != nil {
			// The session events name the session itself, pending or not.
			if s, ok := snap.Session(*e.Session); ok {
				out = append(out, s)
			}
		} else {
			out = characters(snap, r.subject(e))
		}
	case Field, FieldOthers:
		out = field(e, snap)
		if e.Route == FieldOthers {
			out = without(out, r.subject(e))
		}
	case World, Party, Buddies, Guild:
		if r.everyone {
			out = snap.All()
		} else if r.recipients != nil {
			out = characters(snap, r.recipients(e))
		}
	case Account:
		if e.Account != nil {
			out = snap.Account(*e.Account)
		}
	}
	if r.also != nil {
		out = append(out, characters(snap, r.also(e))...)
	}
	if r.channelFromBody {
		out = onChannel(out, e.Body.Channel)
	}
	return unique(out)
}

// field finds the sessions of the event's field: the map the envelope names (channel, map,
// instance), the station map of a transport on any channel, or else the field of the
// character the event is about.
func field(e *Event, snap sessions.Snapshot) []sessions.Session {
	switch {
	case e.rule.anyChannelMap:
		if e.Body.Map == nil {
			return nil
		}
		return snap.Map(*e.Body.Map)
	case e.Map != nil && e.Channel != nil:
		inst := uuid.Nil
		if e.Instance != nil {
			inst = *e.Instance
		}
		return snap.Field(*e.Channel, *e.Map, inst)
	}
	for _, id := range e.rule.subject(e) {
		if s, ok := snap.Character(id); ok && s.Field.Map != 0 {
			return snap.Field(s.Field.Channel, s.Field.Map, s.Field.Instance)
		}
	}
	return nil
}

func characters(snap sessions.Snapshot, ids []uint32) []sessions.Session {
	var out []sessions.Session
	for _, id := range ids {
		if s, ok := snap.Character(id); ok {
			out = append(out, s)
		}
	}
	return out
}

func without(list []sessions.Session, characterIDs []uint32) []sessions.Session {
	out := list[:0]
	for _, s := range list {
		drop := false
		for _, id := range characterIDs {
			drop = drop || s.CharacterID == id
		}
		if !drop {
			out = append(out, s)
		}
	}
	return out
}

func onChannel(list []sessions.Session, channel *uint8) []sessions.Session {
	var ch uint8
	if channel != nil {
		ch = *channel
	}
	out := list[:0]
	for _, s := range list {
		if s.Field.Channel == ch {
			out = append(out, s)
		}
	}
	return out
}

func unique(list []sessions.Session) []sessions.Session {
	if len(list) == 0 {
		return nil
	}
	sort.Slice(list, func(i, j int) bool { return lessID(list[i].ID, list[j].ID) })
	out := list[:1]
	for _, s := range list[1:] {
		if s.ID != out[len(out)-1].ID {
			out = append(out, s)
		}
	}
	return out
}

func lessID(a, b uuid.UUID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
