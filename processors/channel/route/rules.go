package route

// selector names characters an event concerns, by reading one of its fields.
type selector func(e *Event) []uint32

func one(p *uint32) []uint32 {
	if p == nil {
		return nil
	}
	return []uint32{*p}
}

var (
	envCharacter   selector = func(e *Event) []uint32 { return one(e.Character) }
	envActor       selector = func(e *Event) []uint32 { return one(e.Actor) }
	bodyCharacter  selector = func(e *Event) []uint32 { return one(e.Body.Character) }
	bodyActor      selector = func(e *Event) []uint32 { return one(e.Body.Actor) }
	bodyController selector = func(e *Event) []uint32 { return one(e.Body.Controller) }
	bodyRecipient  selector = func(e *Event) []uint32 { return one(e.Body.Recipient) }
	bodyRecipients selector = func(e *Event) []uint32 { return e.Body.Recipients }
	// The giver of fame is told only when it is a character (actorType CHARACTER).
	bodyCharacterActor selector = func(e *Event) []uint32 {
		if e.Body.ActorType != "CHARACTER" {
			return nil
		}
		return one(e.Body.Actor)
	}
)

// firstOf is the first selector that finds the field in the event.
func firstOf(sels ...selector) selector {
	return func(e *Event) []uint32 {
		for _, s := range sels {
			if ids := s(e); ids != nil {
				return ids
			}
		}
		return nil
	}
}

// allOf is every character any selector names.
func allOf(sels ...selector) selector {
	return func(e *Event) []uint32 {
		var out []uint32
		for _, s := range sels {
			out = append(out, s(e)...)
		}
		return out
	}
}

// rule says how a route kind applies to one event type. The defaults below follow the route;
// overrides hold what the catalog's notes add for single types.
type rule struct {
	// subject is the character the event is about: whose session "self" means (unless the
	// event names a session), whose field a field route means when the event names no map,
	// and whom field_others leaves out.
	subject selector
	// recipients are the characters a world/party/buddies/guild event lists.
	recipients selector
	// also are more characters told, wherever they are.
	also selector
	// everyone: a world event told to every session of the instance.
	everyone bool
	// anyChannelMap: a field event naming only a map (body.mapId), on every channel and
	// instance of this instance.
	anyChannelMap bool
	// channelFromBody: only the channel named by body.channelId acts.
	channelFromBody bool
}

func defaultRule(route string) rule {
	switch route {
	case World:
		return rule{recipients: allOf(bodyRecipients, bodyRecipient)}
	case Party, Buddies, Guild:
		return rule{recipients: bodyRecipients}
	}
	return rule{subject: firstOf(envCharacter, bodyCharacter)}
}

// overrides are keyed "TOPIC TYPE" (TYPE empty for a flat topic); each changes the default
// rule of its route.
var overrides = map[string]func(*rule){
	// "Only the channel in body.channelId acts."
	"EVENT_TOPIC_CHARACTER_STATUS MAP_CHANGED":      func(r *rule) { r.channelFromBody = true },
	"EVENT_TOPIC_FAME_STATUS ERROR":                 func(r *rule) { r.channelFromBody = true },
	"EVENT_TOPIC_STORAGE_STATUS PROJECTION_CREATED": func(r *rule) { r.channelFromBody = true },
	// The target is told, and so is the giver when it is a character.
	"EVENT_TOPIC_CHARACTER_STATUS FAME_CHANGED": func(r *rule) { r.also = bodyCharacterActor },
	// The recipient gets the whisper, the sender the send result.
	"EVENT_TOPIC_CHARACTER_CHAT WHISPER": func(r *rule) { r.also = envActor },
	// Monster control goes to the controlling character.
	"EVENT_TOPIC_MONSTER_STATUS START_CONTROL": func(r *rule) { r.subject = bodyActor },
	"EVENT_TOPIC_MONSTER_STATUS STOP_CONTROL":  func(r *rule) { r.subject = bodyActor },
	"EVENT_TOPIC_MONSTER_STATUS AGGRO_CHANGED": func(r *rule) { r.subject = bodyController },
	// The HP bar goes to the attacker's party in the field; the event lists no party, and the
	// channel keeps no party state, so the attacker alone is told.
	"EVENT_TOPIC_MONSTER_STATUS DAMAGED": func(r *rule) { r.recipients, r.also = nil, bodyActor },
	// "Announced to every session on the receiving channel."
	"EVENT_TOPIC_CONSUMABLE_STATUS REWARD_WON": func(r *rule) { r.everyone = true },
	// Transports name a station map only: every session there on this instance's channels.
	"EVENT_TOPIC_TRANSPORT_STATUS ARRIVED":  func(r *rule) { r.anyChannelMap = true },
	"EVENT_TOPIC_TRANSPORT_STATUS DEPARTED": func(r *rule) { r.anyChannelMap = true },
}

func ruleFor(topic, typ, route string) rule {
	r := defaultRule(route)
	if o, ok := overrides[topic+" "+typ]; ok {
		o(&r)
	}
	return r
}
