package channeltest

import (
	"sort"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
)

// The instance of the routing cases serves world 0, channels 1 and 2.
const (
	World = 0
	MapA  = 100000000
	MapB  = 200000000
)

// Channels are the channels of the routing cases' instance.
var Channels = map[uint8]bool{1: true, 2: true}

// Population adds the players every routing case starts from and returns them by character:
//
//	42, 43  channel 1, map A        44  channel 1, map B
//	45      channel 2, map A        46  channel 1, map A, pending (not entered yet)
func Population(t testing.TB, reg *sessions.Registry) map[uint32]*Player {
	t.Helper()
	out := map[uint32]*Player{}
	for _, p := range []struct {
		char    uint32
		channel uint8
		mapID   uint32
	}{{42, 1, MapA}, {43, 1, MapA}, {44, 1, MapB}, {45, 2, MapA}} {
		out[p.char] = AddPlayer(t, reg, p.char, sessions.Field{World: World, Channel: p.channel, Map: p.mapID})
	}
	pending := &Conn{}
	s := sessions.Session{ID: uuid.UUID{46}, AccountID: 1046, CharacterID: 46,
		Field: sessions.Field{World: World, Channel: 1, Map: MapA}, Conn: pending}
	if err := reg.Add(s, 0); err != nil {
		t.Fatal(err)
	}
	out[46] = &Player{Session: s, Conn: pending}
	return out
}

// RouteCase is one consumed event and the characters of Population it must reach.
type RouteCase struct {
	Name  string
	Topic string
	Value string
	// Tenant of the record; nil for the instance's own.
	Tenant *codecs.Tenant
	Want   []uint32
}

// RouteCases cover every route kind of the catalog and the filters in front of routing.
func RouteCases() []RouteCase {
	return []RouteCase{
		{"self: the character's own session", "EVENT_TOPIC_CHARACTER_STATUS",
			`{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":42,"type":"EXPERIENCE_CHANGED","body":{"channelId":1,"current":1250,"distributions":[]}}`, nil, []uint32{42}},
		{"self: a topic without world", "EVENT_TOPIC_NOTE_STATUS",
			`{"characterId":44,"type":"CREATED","body":{"noteId":12,"senderId":43,"message":"hi","flag":0,"time":"2026-01-15T10:00:00Z"}}`, nil, []uint32{44}},
		{"self: the character named in the body", "EVENT_TOPIC_CHAIR_STATUS",
			`{"worldId":0,"channelId":1,"mapId":100000000,"chairType":"FIXED","chairId":2,"type":"ERROR","body":{"characterId":43,"type":"ALREADY_SITING"}}`, nil, []uint32{43}},
		{"self: the monster's controller", "EVENT_TOPIC_MONSTER_STATUS",
			`{"worldId":0,"channelId":1,"mapId":200000000,"uniqueId":7,"monsterId":100100,"type":"START_CONTROL","body":{"actorId":44,"x":1,"y":2,"stance":5,"fh":12,"team":-1}}`, nil, []uint32{44}},
		{"self: fame target and giving character", "EVENT_TOPIC_CHARACTER_STATUS",
			`{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":42,"type":"FAME_CHANGED","body":{"actorId":45,"actorType":"CHARACTER","amount":1}}`, nil, []uint32{42, 45}},
		{"self: only the channel in body.channelId acts", "EVENT_TOPIC_FAME_STATUS",
			`{"transactionId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","worldId":0,"characterId":45,"type":"ERROR","body":{"channelId":1,"error":"NOT_TODAY"}}`, nil, nil},
		{"self: a pending session gets nothing", "EVENT_TOPIC_NOTE_STATUS",
			`{"characterId":46,"type":"CREATED","body":{"noteId":12,"senderId":43,"message":"hi","flag":0,"time":"2026-01-15T10:00:00Z"}}`, nil, nil},
		{"field: map chat reaches the map on that channel, speaker included", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":false}}`, nil, []uint32{42, 43}},
		{"field: the character's field when the event names no map", "EVENT_TOPIC_CHARACTER_STATUS",
			`{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":43,"type":"LEVEL_CHANGED","body":{"channelId":1,"amount":1,"current":11}}`, nil, []uint32{42, 43}},
		{"field: a transport's station map on every channel", "EVENT_TOPIC_TRANSPORT_STATUS",
			`{"routeId":"1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b","type":"ARRIVED","body":{"mapId":100000000}}`, nil, []uint32{42, 43, 45}},
		{"field: another instance of the map", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"instance":"c0ffee00-1111-4222-8333-444455556666","actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":false}}`, nil, nil},
		{"field_others: everyone in the field but the actor", "EVENT_TOPIC_EXPRESSION",
			`{"transactionId":"2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","characterId":42,"worldId":0,"channelId":1,"mapId":100000000,"expression":3}`, nil, []uint32{43}},
		{"field_others: the actor named in the body", "EVENT_TOPIC_CHAIR_STATUS",
			`{"worldId":0,"channelId":1,"mapId":100000000,"chairType":"PORTABLE","chairId":3010000,"type":"USED","body":{"characterId":43}}`, nil, []uint32{42}},
		{"world: whisper recipient and sender", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"psst","type":"WHISPER","body":{"recipient":45}}`, nil, []uint32{42, 45}},
		{"world: messenger room members", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":2,"mapId":100000000,"actorId":45,"message":"yo","type":"MESSENGER","body":{"recipients":[44,99]}}`, nil, []uint32{44}},
		{"world: every session of the instance", "EVENT_TOPIC_CONSUMABLE_STATUS",
			`{"characterId":42,"type":"REWARD_WON","body":{"boxItemId":2022336,"itemId":1002357,"message":"Alice won"}}`, nil, []uint32{42, 43, 44, 45}},
		{"party: the listed members held here", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"go left","type":"PARTY","body":{"recipients":[43,44,99]}}`, nil, []uint32{43, 44}},
		{"party: a monster's HP bar goes to the attacker", "EVENT_TOPIC_MONSTER_STATUS",
			`{"worldId":0,"channelId":1,"mapId":100000000,"uniqueId":7,"monsterId":100100,"type":"DAMAGED","body":{"x":1,"y":2,"actorId":42,"damageEntries":null}}`, nil, []uint32{42}},
		{"buddies: the listed buddies", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"hi","type":"BUDDY","body":{"recipients":[45]}}`, nil, []uint32{45}},
		{"guild: the listed members", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"gm","type":"GUILD","body":{"recipients":[42,44]}}`, nil, []uint32{42, 44}},
		{"account: the account's session", "EVENT_TOPIC_STORAGE_STATUS",
			`{"transactionId":"3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7","worldId":0,"accountId":1043,"type":"MESOS_UPDATED","body":{"oldMesos":1,"newMesos":2}}`, nil, []uint32{43}},
		{"none: nobody", "EVENT_TOPIC_CHARACTER_STATUS",
			`{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":42,"type":"CREATED","body":{"name":"Alice"}}`, nil, nil},
		{"filter: another tenant", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":false}}`, &Other, nil},
		{"filter: another world", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":1,"channelId":1,"mapId":100000000,"actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":false}}`, nil, nil},
		{"filter: another channel of a field route", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":3,"mapId":100000000,"actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":false}}`, nil, nil},
	}
}

// Reached lists, sorted, the characters of players that got an event frame since the last
// call, and forgets their frames.
func Reached(players map[uint32]*Player) []uint32 {
	var out []uint32
	for id, p := range players {
		for _, f := range p.Conn.Take() {
			if f.Op == "event" {
				out = append(out, id)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
