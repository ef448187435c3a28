package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/events"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/route"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// harness runs the instance's 20 processors in Goka's tester.
type harness struct {
	t        *testing.T
	tt       *tester.Tester
	reg      *sessions.Registry
	mgr      *sessions.Manager
	emit     *channeltest.Emitter
	dlq      *tester.QueueTracker
	presence *events.Presence
}

func newHarness(t *testing.T) *harness {
	tt := tester.New(t)
	emit := &channeltest.Emitter{}
	reg := sessions.NewRegistry()
	mgr := sessions.NewManager(reg, emit)
	h := &events.Handler{
		Tenant: channeltest.Tenant, Scope: route.Scope{World: channeltest.World, Channels: channeltest.Channels},
		Sessions: mgr, Presence: events.NewPresence(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	graphs := h.Graphs(atlas.ChannelGroup("tester"))
	require.Len(t, graphs, len(events.Consumed()), "one processor per consumed topic, of both eras")
	for _, gg := range graphs {
		p, err := goka.NewProcessor(nil, gg, goka.WithTester(tt))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("processor %s: %v", gg.InputStreams()[0].Topic(), err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &harness{t: t, tt: tt, reg: reg, mgr: mgr, emit: emit, dlq: tt.NewQueueTracker(string(atlas.DeadLetterTopic)), presence: h.Presence}
}

// send consumes one record of a catalog topic with the tenant's headers (none when nil).
func (h *harness) send(topic string, tenant *codecs.Tenant, value string) {
	hdr := goka.Headers{}
	if tenant != nil {
		hdr = tenant.Headers()
	}
	h.tt.Consume(string(atlas.TopicFromEnv(topic)), codecs.IDKey(1), []byte(value), tester.WithHeaders(hdr))
}

func (h *harness) deadLetters() int {
	n := 0
	for {
		if _, _, ok := h.dlq.Next(); !ok {
			return n
		}
		n++
	}
}

// Every route kind, through the real processor graph: each case's event reaches exactly the
// sessions it names, with the record's value as it was.
func TestRoutingThroughProcessors(t *testing.T) {
	h := newHarness(t)
	players := channeltest.Population(t, h.reg)
	for _, c := range channeltest.RouteCases() {
		t.Run(c.Name, func(t *testing.T) {
			tenant := &channeltest.Tenant
			if c.Tenant != nil {
				tenant = c.Tenant
			}
			h.send(c.Topic, tenant, c.Value)
			got := map[uint32][]protocol.ServerFrame{}
			for id, p := range players {
				if fs := p.Conn.Take(); len(fs) > 0 {
					got[id] = fs
				}
			}
			var reached []uint32
			for id, fs := range got {
				require.Len(t, fs, 1, "one frame for %d", id)
				require.Equal(t, protocol.OpEvent, fs[0].Op)
				require.Equal(t, c.Topic, fs[0].Topic)
				require.JSONEq(t, c.Value, string(fs[0].Message), "the message as it was on the topic")
				reached = append(reached, id)
			}
			require.ElementsMatch(t, c.Want, reached)
			require.Zero(t, h.deadLetters())
		})
	}
}

// Undecodable events are dead-lettered and the processors go on; unknown types and
// records without a tenant are ignored.
func TestBadEvents(t *testing.T) {
	h := newHarness(t)
	players := channeltest.Population(t, h.reg)
	for _, c := range []struct {
		name, topic, value string
		tenant             *codecs.Tenant
		dead               int
	}{
		{"not JSON", "EVENT_TOPIC_CHARACTER_CHAT", `hello`, &channeltest.Tenant, 1},
		{"body of the wrong shape", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"x","type":"PARTY","body":{"recipients":"43"}}`, &channeltest.Tenant, 1},
		{"envelope field out of range", "EVENT_TOPIC_MAP_STATUS",
			`{"worldId":0,"channelId":1,"mapId":-1,"type":"CHARACTER_ENTER","body":{"characterId":42}}`, &channeltest.Tenant, 1},
		{"field the router does not read is wrong", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":7,"type":"GENERAL","body":{"balloonOnly":false}}`, &channeltest.Tenant, 1},
		{"unknown type", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"x","type":"SHOUT","body":{}}`, &channeltest.Tenant, 0},
		{"no tenant headers", "EVENT_TOPIC_CHARACTER_CHAT", `hello`, nil, 0},
		{"malformed, but another world's", "EVENT_TOPIC_CHARACTER_CHAT",
			`{"worldId":3,"channelId":1,"mapId":100000000,"actorId":42,"message":7,"type":"GENERAL","body":{}}`, &channeltest.Tenant, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.send(c.topic, c.tenant, c.value)
			require.Equal(t, c.dead, h.deadLetters())
			require.Empty(t, channeltest.Reached(players))
		})
	}
	// The processors still route.
	h.send("EVENT_TOPIC_CHARACTER_CHAT", &channeltest.Tenant,
		`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"x","type":"GENERAL","body":{"balloonOnly":false}}`)
	require.Equal(t, []uint32{42, 43}, channeltest.Reached(players))
}

func chat(mapID uint32) string {
	return fmt.Sprintf(`{"worldId":0,"channelId":1,"mapId":%d,"actorId":42,"message":"x","type":"GENERAL","body":{"balloonOnly":false}}`, mapID)
}

func mapEvent(typ string, mapID, character uint32) string {
	return fmt.Sprintf(`{"transactionId":"0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f","worldId":0,"channelId":1,"mapId":%d,"type":"%s","body":{"characterId":%d}}`, mapID, typ, character)
}

// Map membership follows MAP_STATUS CHARACTER_ENTER / CHARACTER_EXIT and CHARACTER_STATUS
// MAP_CHANGED, and routing follows membership.
func TestMembershipThroughProcessors(t *testing.T) {
	h := newHarness(t)
	players := channeltest.Population(t, h.reg)
	me := &channeltest.Tenant

	h.send("EVENT_TOPIC_MAP_STATUS", me, mapEvent("CHARACTER_ENTER", channeltest.MapA, 44))
	require.Equal(t, []uint32{42, 43, 44}, channeltest.Reached(players), "the newcomer and the field see the entry")
	h.send("EVENT_TOPIC_CHARACTER_CHAT", me, chat(channeltest.MapA))
	require.Equal(t, []uint32{42, 43, 44}, channeltest.Reached(players))

	h.send("EVENT_TOPIC_MAP_STATUS", me, mapEvent("CHARACTER_EXIT", channeltest.MapA, 43))
	require.Equal(t, []uint32{42, 44}, channeltest.Reached(players), "the others see the exit")
	h.send("EVENT_TOPIC_CHARACTER_CHAT", me, chat(channeltest.MapA))
	require.Equal(t, []uint32{42, 44}, channeltest.Reached(players))

	h.send("EVENT_TOPIC_CHARACTER_STATUS", me, `{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":42,"type":"MAP_CHANGED","body":{"channelId":1,"oldMapId":100000000,"targetMapId":200000000,"targetPortalId":0}}`)
	require.Equal(t, []uint32{42}, channeltest.Reached(players), "the warp goes to the character")
	h.send("EVENT_TOPIC_CHARACTER_CHAT", me, chat(channeltest.MapB))
	require.Equal(t, []uint32{42}, channeltest.Reached(players), "44 moved to map A, 42 to map B")

	h.send("EVENT_TOPIC_CHARACTER_STATUS", me, `{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":45,"type":"MAP_CHANGED","body":{"channelId":1,"oldMapId":100000000,"targetMapId":200000000,"targetPortalId":0}}`)
	require.Empty(t, channeltest.Reached(players), "45 is on channel 2: a map change for channel 1 is not its own")
	s, _ := h.reg.Get(players[45].ID)
	require.Equal(t, uint32(channeltest.MapA), s.Field.Map)
}

func stateChanged(sid uuid.UUID, account uint32, params string) string {
	return fmt.Sprintf(`{"sessionId":"%s","accountId":%d,"type":"STATE_CHANGED","body":{"state":1,"params":%s}}`, sid, account, params)
}

// The account service's answers complete an entry, move a session, or close it; a session
// destroyed elsewhere is closed; this instance's own DESTROYED coming back is not.
func TestSessionLifecycleThroughProcessors(t *testing.T) {
	h := newHarness(t)
	me := &channeltest.Tenant
	conn := &channeltest.Conn{}
	sid := uuid.New()
	s := sessions.Session{ID: sid, AccountID: 7, CharacterID: 42, Field: sessions.Field{World: 0, Channel: 1}, Conn: conn}
	require.NoError(t, h.mgr.Enter(s, 10, codecs.NewTrace()))
	recs := h.emit.Take()
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE"}, channeltest.Summary(recs))
	require.JSONEq(t, fmt.Sprintf(`{"sessionId":"%s","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":1,"params":{"characterId":42}}}`, sid), string(recs[0].Value))
	require.Equal(t, codecs.IDKey(7), recs[0].Key)

	// Another session's answer, and a login-server shape, change nothing.
	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", me, stateChanged(uuid.New(), 7, `{"characterId":42}`))
	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", me, stateChanged(sid, 7, `{"characterId":43}`))
	got, _ := h.reg.Get(sid)
	require.Equal(t, sessions.Pending, got.State, "a login for another character is not this entry's")

	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", me, stateChanged(sid, 7, `{"characterId":42}`))
	frames := conn.Take()
	require.Len(t, frames, 3, "the event for the other character, the entry, the event that completed it")
	require.Equal(t, protocol.OpEntered, frames[1].Op)
	require.Equal(t, sid, frames[1].SessionID)
	require.Equal(t, uint8(1), frames[1].ChannelID)
	require.Equal(t, protocol.OpEvent, frames[2].Op)
	recs = h.emit.Take()
	require.Equal(t, []string{"EVENT_TOPIC_SESSION_STATUS CREATED"}, channeltest.Summary(recs))
	require.JSONEq(t, fmt.Sprintf(`{"sessionId":"%s","accountId":7,"characterId":42,"worldId":0,"channelId":1,"issuer":"CHANNEL","type":"CREATED"}`, sid), string(recs[0].Value))
	require.Equal(t, codecs.IDKey(42), recs[0].Key)

	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", me, stateChanged(sid, 7, `{"characterId":42}`))
	require.Empty(t, h.emit.Take(), "a redelivered STATE_CHANGED completes nothing twice")
	conn.Take()

	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", me, stateChanged(sid, 7, `{"ipAddress":"10.0.0.5","port":7576}`))
	frames = conn.Take()
	require.Len(t, frames, 2)
	require.Equal(t, protocol.OpMove, frames[1].Op)
	require.Equal(t, "10.0.0.5", frames[1].IPAddress)
	require.Equal(t, uint16(7576), frames[1].Port)

	// This instance's own DESTROYED comes back: not a reason to close anything.
	h.send("EVENT_TOPIC_SESSION_STATUS", me, fmt.Sprintf(`{"sessionId":"%s","accountId":7,"characterId":42,"worldId":0,"channelId":1,"issuer":"CHANNEL","type":"DESTROYED"}`, sid))
	require.Empty(t, conn.Closed())
	// Another channel destroyed it.
	h.send("EVENT_TOPIC_SESSION_STATUS", me, fmt.Sprintf(`{"sessionId":"%s","accountId":7,"characterId":42,"worldId":0,"channelId":9,"issuer":"CHANNEL","type":"DESTROYED"}`, sid))
	require.Equal(t, "session destroyed", conn.Closed())
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED"}, channeltest.Summary(h.emit.Take()))
	_, held := h.reg.Get(sid)
	require.False(t, held)
}

func TestAccountServiceErrorClosesTheSession(t *testing.T) {
	h := newHarness(t)
	conn := &channeltest.Conn{}
	sid := uuid.New()
	require.NoError(t, h.mgr.Enter(sessions.Session{ID: sid, AccountID: 7, CharacterID: 42, Field: sessions.Field{Channel: 2}, Conn: conn}, 0, codecs.NewTrace()))
	h.emit.Take()
	h.send("EVENT_TOPIC_ACCOUNT_SESSION_STATUS", &channeltest.Tenant,
		fmt.Sprintf(`{"sessionId":"%s","accountId":7,"type":"ERROR","body":{"code":"SYSTEM_ERROR","reason":0,"until":0}}`, sid))
	frames := conn.Take()
	require.Len(t, frames, 2)
	require.Equal(t, protocol.OpEvent, frames[0].Op)
	require.Equal(t, protocol.OpError, frames[1].Op)
	require.Contains(t, frames[1].Reason, "SYSTEM_ERROR")
	require.Equal(t, "account service: SYSTEM_ERROR", conn.Closed())
	recs := h.emit.Take()
	require.Equal(t, []string{"COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED"}, channeltest.Summary(recs))
	var logout codecs.AccountSessionCommand
	require.NoError(t, json.Unmarshal(recs[0].Value, &logout))
	require.Equal(t, "CHANNEL", logout.Author)
	require.Equal(t, uint32(7), logout.AccountID)
}

func TestPresence(t *testing.T) {
	h := newHarness(t)
	sid := uuid.New()
	status := func(typ string, id uuid.UUID, channel int) string {
		return fmt.Sprintf(`{"sessionId":"%s","accountId":7,"characterId":42,"worldId":0,"channelId":%d,"issuer":"CHANNEL","type":"%s"}`, id, channel, typ)
	}
	h.send("EVENT_TOPIC_SESSION_STATUS", &channeltest.Tenant, status("CREATED", sid, 5))
	w, ok := h.presence.Of(42)
	require.True(t, ok)
	require.Equal(t, events.Where{SessionID: sid, ChannelID: 5}, w)
	h.send("EVENT_TOPIC_SESSION_STATUS", &channeltest.Tenant, status("DESTROYED", uuid.New(), 4))
	_, ok = h.presence.Of(42)
	require.True(t, ok, "an older session's end leaves the current one")
	h.send("EVENT_TOPIC_SESSION_STATUS", &channeltest.Tenant, status("DESTROYED", sid, 5))
	_, ok = h.presence.Of(42)
	require.False(t, ok)
}

// seriesWith lists the messages_in_total series of a group whose type label is typ.
func seriesWith(t *testing.T, group, typ string) (n int, total float64) {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "atlas_messages_in_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["group"] == group && labels["type"] == typ {
				n++
				total += m.GetCounter().GetValue()
			}
		}
	}
	return n, total
}

// A producer's made-up types never become label values: they count as "other", and every
// known label of the group exists at 0 before the first message.
func TestTypeLabelsAreAClosedSet(t *testing.T) {
	h := newHarness(t)
	group := string(atlas.ChannelGroup("tester"))
	n, total := seriesWith(t, group, "REQUEST_LICENSE_AGREEMENT")
	require.Positive(t, n, "declared at 0 from the start")
	require.Zero(t, total)
	_, before := seriesWith(t, group, "other")
	for i := 0; i < 50; i++ {
		h.send("EVENT_TOPIC_CHARACTER_CHAT", &channeltest.Tenant,
			fmt.Sprintf(`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":42,"message":"x","type":"MADE_UP_%d","body":{}}`, i))
	}
	require.Eventually(t, func() bool { _, after := seriesWith(t, group, "other"); return after == before+50 }, 10*time.Second, 5*time.Millisecond)
	n, _ = seriesWith(t, group, "MADE_UP_7")
	require.Zero(t, n, "no series for a made-up type")
}
