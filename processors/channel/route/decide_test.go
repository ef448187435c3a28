package route_test

import (
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/route"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/stretchr/testify/require"
)

var scope = route.Scope{World: channeltest.World, Channels: channeltest.Channels}

// decide runs the routing steps the event processors run after the tenant check.
func decide(t *testing.T, reg *sessions.Registry, topic, value string) []uint32 {
	t.Helper()
	cat, ok := codecs.LookupCatalogTopic(topic)
	require.True(t, ok, topic)
	ev, err := route.Parse(cat, []byte(value))
	require.NoError(t, err)
	if !ev.Keep(scope) {
		return nil
	}
	require.NoError(t, ev.ParseBody())
	var got []uint32
	reg.Read(func(s sessions.Snapshot) {
		for _, sess := range route.Decide(ev, s) {
			got = append(got, sess.CharacterID)
		}
	})
	return got
}

func TestDecideEveryRouteKind(t *testing.T) {
	for _, c := range channeltest.RouteCases() {
		if c.Tenant != nil {
			continue // tenants are checked from headers, before routing
		}
		t.Run(c.Name, func(t *testing.T) {
			reg := sessions.NewRegistry()
			channeltest.Population(t, reg)
			require.ElementsMatch(t, c.Want, decide(t, reg, c.Topic, c.Value))
		})
	}
}

// Every route the catalog gives a consumed type is one Decide knows.
func TestEveryCatalogRouteIsKnown(t *testing.T) {
	known := map[string]bool{route.Self: true, route.Field: true, route.FieldOthers: true, route.World: true,
		route.Party: true, route.Buddies: true, route.Guild: true, route.Account: true, route.None: true, "": true}
	for _, tp := range codecs.CatalogTopicList() {
		if !tp.ConsumedBy("channel") {
			continue
		}
		require.True(t, known[tp.Route], "%s route %q", tp.Name, tp.Route)
		for _, ct := range tp.Types {
			require.True(t, known[ct.Route], "%s %s route %q", tp.Name, ct.Value, ct.Route)
		}
	}
}

func TestParseRefusesWhatItCannotRoute(t *testing.T) {
	chat, _ := codecs.LookupCatalogTopic("EVENT_TOPIC_CHARACTER_CHAT")
	_, err := route.Parse(chat, []byte(`{"worldId":0,"type":"SHOUT","body":{}}`))
	require.ErrorIs(t, err, codecs.ErrUnknownType)
	_, err = route.Parse(chat, []byte(`{"worldId":0,"body":{}}`))
	require.ErrorIs(t, err, codecs.ErrMalformed)
	_, err = route.Parse(chat, []byte(`not json`))
	require.ErrorIs(t, err, codecs.ErrMalformed)
	_, err = route.Parse(chat, []byte(`{"worldId":"zero","type":"GENERAL"}`))
	require.ErrorIs(t, err, codecs.ErrMalformed)

	ev, err := route.Parse(chat, []byte(`{"worldId":0,"channelId":1,"type":"PARTY","body":{"recipients":"43"}}`))
	require.NoError(t, err, "the body is read only when the event is kept")
	require.ErrorIs(t, ev.ParseBody(), codecs.ErrMalformed)
}

// An exit from a map the character already left changes nothing; the field moves with
// EnterField and only on the session's channel.
func TestFieldMembership(t *testing.T) {
	reg := sessions.NewRegistry()
	players := channeltest.Population(t, reg)
	chat := func(mapID string) []uint32 {
		return decide(t, reg, "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":`+mapID+`,"actorId":42,"message":"x","type":"GENERAL","body":{"balloonOnly":false}}`)
	}
	mapA := sessions.Field{World: 0, Channel: 1, Map: channeltest.MapA}
	mapB := sessions.Field{World: 0, Channel: 1, Map: channeltest.MapB}
	require.True(t, reg.EnterField(44, mapA))
	require.ElementsMatch(t, []uint32{42, 43, 44}, chat("100000000"))
	require.False(t, reg.LeaveField(44, mapB), "the exit from map B arrived late")
	require.ElementsMatch(t, []uint32{42, 43, 44}, chat("100000000"))
	require.True(t, reg.LeaveField(44, mapA))
	require.ElementsMatch(t, []uint32{42, 43}, chat("100000000"))
	require.Empty(t, chat("200000000"))
	require.False(t, reg.EnterField(45, mapB), "45 is on channel 2")
	require.Equal(t, uint8(2), players[45].Field.Channel)
}
