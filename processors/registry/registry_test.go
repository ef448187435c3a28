package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/registry/registrypb"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var (
	tenantA = codecs.Tenant{ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Region: "GMS", Major: 83, Minor: 1}
	tenantB = codecs.Tenant{ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Region: "JMS", Major: 185, Minor: 1}
	t0      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
)

// groupTester runs the registry group in Goka's tester, fed with raw bytes as any producer
// would write them.
type groupTester struct {
	t   *testing.T
	tt  *tester.Tester
	dlq *tester.QueueTracker
}

func newGroupTester(t *testing.T) *groupTester {
	tt := tester.New(t)
	p, err := goka.NewProcessor(nil, Group(), goka.WithTester(tt))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return &groupTester{t: t, tt: tt, dlq: tt.NewQueueTracker(string(atlas.DeadLetterTopic))}
}

func (g *groupTester) produce(key uint32, value string, h goka.Headers, ts time.Time) {
	g.tt.Consume(string(atlas.EventTopicAccountStatus), codecs.IDKey(key), []byte(value),
		tester.WithHeaders(h), tester.WithTime(ts))
}

func (g *groupTester) row(t codecs.Tenant, id uint32) *registrypb.Entry {
	v := g.tt.TableValue(atlas.RegistryTable, model.AccountKey(t, id))
	if v == nil {
		return nil
	}
	return v.(*registrypb.Entry)
}

// deadLetters drains the dead-letter topic: value and reason of each record.
func (g *groupTester) deadLetters() (values, reasons []string) {
	for {
		h, _, v, ok := g.dlq.NextWithHeaders()
		if !ok {
			return values, reasons
		}
		d, err := codecs.DeadLetterFromHeaders(h)
		require.NoError(g.t, err)
		values = append(values, string(v.([]byte)))
		reasons = append(reasons, d.Reason)
	}
}

func TestGroupSetsAndClearsPerTenant(t *testing.T) {
	g := newGroupTester(t)
	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_IN"}`, tenantA.Headers(), t0)
	g.produce(7, `{"account_id":7,"name":"bobby","status":"LOGGED_IN"}`, tenantB.Headers(), t0)

	require.True(t, proto.Equal(&registrypb.Entry{AccountId: 7, Name: "bob", LoggedIn: true, TimestampMs: t0.UnixMilli()}, g.row(tenantA, 7)))
	require.Equal(t, "bobby", g.row(tenantB, 7).GetName(), "same id in another tenant is another row")

	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_OUT"}`, tenantA.Headers(), t0.Add(time.Second))
	require.False(t, g.row(tenantA, 7).GetLoggedIn())
	require.True(t, g.row(tenantB, 7).GetLoggedIn(), "a logout in one tenant leaves the other alone")

	// Redelivery of the same event changes nothing.
	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_OUT"}`, tenantA.Headers(), t0.Add(time.Second))
	require.False(t, g.row(tenantA, 7).GetLoggedIn())

	require.ElementsMatch(t, []string{model.AccountKey(tenantA, 7), model.AccountKey(tenantB, 7)}, g.tt.GetTableKeys(atlas.RegistryTable))
	values, _ := g.deadLetters()
	require.Empty(t, values)
}

func TestGroupIgnoresOtherStatusesWithoutRows(t *testing.T) {
	g := newGroupTester(t)
	g.produce(3, `{"account_id":3,"name":"c","status":"CREATED"}`, tenantA.Headers(), t0)
	g.produce(4, `{"account_id":4,"name":"d","status":"DELETED"}`, tenantA.Headers(), t0)
	// Unknown statuses are skipped as the catalog says, even without a tenant: they are not
	// this consumer's business, so not errors either.
	g.produce(5, `{"account_id":5,"name":"e","status":"SUSPENDED"}`, tenantA.Headers(), t0)
	g.produce(5, `{"account_id":5,"name":"e","status":"SUSPENDED"}`, nil, t0)
	require.Empty(t, g.tt.GetTableKeys(atlas.RegistryTable))
	values, _ := g.deadLetters()
	require.Empty(t, values)
}

func TestGroupTakesTheIDFromTheBody(t *testing.T) {
	g := newGroupTester(t)
	// A producer keying by something else (here id 1) still names the account in the body.
	g.produce(1, `{"account_id":9,"name":"nine","status":"LOGGED_IN"}`, tenantA.Headers(), t0)
	require.True(t, g.row(tenantA, 9).GetLoggedIn())
	require.Nil(t, g.row(tenantA, 1))
}

func TestGroupDeadLettersBadInputAndGoesOn(t *testing.T) {
	g := newGroupTester(t)
	noRegion := tenantA.Headers()
	delete(noRegion, codecs.HeaderRegion)
	bad := []struct {
		value   string
		headers goka.Headers
		reason  string
	}{
		{`not json`, tenantA.Headers(), "malformed"},
		{`{"account_id":"7","name":"x","status":"LOGGED_IN"}`, tenantA.Headers(), "malformed"},
		{`{"account_id":7,"name":"x"}`, tenantA.Headers(), "malformed"},
		{`{"account_id":7,"name":"x","status":"LOGGED_IN"}`, nil, "TENANT_ID"},
		{`{"account_id":7,"name":"x","status":"LOGGED_IN"}`, noRegion, "REGION"},
		{`{"account_id":0,"name":"x","status":"LOGGED_IN"}`, tenantA.Headers(), "account_id 0"},
	}
	for _, b := range bad {
		g.produce(7, b.value, b.headers, t0)
	}
	g.produce(8, `{"account_id":8,"name":"ok","status":"LOGGED_IN"}`, tenantA.Headers(), t0)
	require.True(t, g.row(tenantA, 8).GetLoggedIn(), "the processor goes on after bad input")
	require.Nil(t, g.row(tenantA, 7))

	values, reasons := g.deadLetters()
	require.Len(t, values, len(bad))
	for i, b := range bad {
		require.Equal(t, b.value, values[i], "the original bytes are kept")
		require.Contains(t, reasons[i], b.reason)
	}
}

func TestGroupIgnoresStaleEvents(t *testing.T) {
	g := newGroupTester(t)
	// Written by a producer that spreads by load: the logout lands first.
	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_OUT"}`, tenantA.Headers(), t0.Add(time.Second))
	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_IN"}`, tenantA.Headers(), t0)
	require.False(t, g.row(tenantA, 7).GetLoggedIn())
	g.produce(7, `{"account_id":7,"name":"bob","status":"LOGGED_IN"}`, tenantA.Headers(), t0.Add(2*time.Second))
	require.True(t, g.row(tenantA, 7).GetLoggedIn())
}

func TestDecide(t *testing.T) {
	d := Decide(tenantA.Headers(), []byte(`{"account_id":7,"name":"bob","status":"LOGGED_IN","extra":1}`), t0)
	require.Equal(t, Update, d.Outcome, "unknown keys are ignored: %v", d.Err)
	require.Equal(t, model.AccountKey(tenantA, 7), d.Key)
	require.True(t, d.Entry.LoggedIn)

	d = Decide(tenantA.Headers(), []byte(`{"account_id":7,"name":"bob","status":"LOGGED_OUT"}`), time.Time{})
	require.Equal(t, Update, d.Outcome)
	require.False(t, d.Entry.LoggedIn)
	require.Zero(t, d.Entry.TimestampMs, "no timestamp is 0, not a negative number")

	d = Decide(tenantA.Headers(), []byte(`{"account_id":7,"status":"NEW_THING"}`), t0)
	require.Equal(t, Ignore, d.Outcome)
	require.True(t, errors.Is(d.Err, codecs.ErrUnknownType))

	d = Decide(tenantA.Headers(), []byte(`[]`), t0)
	require.Equal(t, Reject, d.Outcome)
	require.True(t, errors.Is(d.Err, codecs.ErrMalformed))
}

func TestApply(t *testing.T) {
	in := &registrypb.Entry{AccountId: 7, Name: "bob", LoggedIn: true, TimestampMs: 100}
	next, changed := Apply(nil, in)
	require.True(t, changed)
	require.True(t, proto.Equal(in, next))

	_, changed = Apply(next, in)
	require.False(t, changed, "the same update twice changes nothing")

	out := &registrypb.Entry{AccountId: 7, LoggedIn: false, TimestampMs: 100}
	next2, changed := Apply(next, out)
	require.True(t, changed, "equal timestamps: the later arrival wins")
	require.Equal(t, "bob", next2.Name, "an event without a name keeps the name")

	_, changed = Apply(next2, &registrypb.Entry{AccountId: 7, LoggedIn: true, TimestampMs: 99})
	require.False(t, changed, "older than the row: stale")

	next3, changed := Apply(next2, &registrypb.Entry{AccountId: 7, LoggedIn: true})
	require.True(t, changed, "an update without a timestamp cannot be judged stale")
	require.True(t, next3.LoggedIn)
}
