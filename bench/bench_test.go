package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The recovery figure's machinery on a small table: a view restores exactly what was written.
func TestRecoveryMeasuresASmallTable(t *testing.T) {
	s, err := newStack(2, nil)
	require.NoError(t, err)
	defer s.close()
	r, err := recovery(s, 2000)
	require.NoError(t, err)
	require.Equal(t, 2000, r.Records)
	require.Greater(t, r.RecoverPerSec, 0.0)
	require.Greater(t, r.RawReadPerSec, 0.0)
}

// The entry figures' machinery: every ticket checks and every entry completes.
func TestEntryFiguresRun(t *testing.T) {
	checks, bare, err := ticketChecks(200)
	require.NoError(t, err)
	require.Greater(t, checks, 0.0)
	require.Greater(t, bare, 0.0)
	rate, err := entries(40, 4)
	require.NoError(t, err)
	require.Greater(t, rate, 0.0)
	t.Logf("ticket checks %.0f/s (bare Ed25519 %.0f/s, ratio %.2f); entries %.0f/s", checks, bare, checks/bare, rate)
}

// The API figures' machinery: every page of a served table answers, from several clients.
func TestAPIFiguresRun(t *testing.T) {
	s, err := newStack(2, nil)
	require.NoError(t, err)
	defer s.close()
	a, err := startAPI(s, 3000, t.Logf)
	require.NoError(t, err)
	defer a.close()
	lat, err := a.clients(3, 20, true, 0, nil)
	require.NoError(t, err)
	require.Len(t, lat, 60)
	_, err = a.get(&http.Client{}, 61) // 3000 accounts are 60 pages of 50: the 61st is empty but answers
	require.NoError(t, err)
}

// The fan-out figure's machinery: once the instance consumes every partition, every event
// reaches every session.
func TestFanOutRuns(t *testing.T) {
	s, err := newStack(3, nil)
	require.NoError(t, err)
	defer s.close()
	rate, err := fanOut(s, 20, 50)
	require.NoError(t, err)
	require.Greater(t, rate, 0.0)
}

// A failed figure is reported with why, the others still are, and the last line names what
// each key holds.
func TestReportLinesNameTheirUnitsAndFailures(t *testing.T) {
	r := &Report{Figures: []Figure{{Name: "steady_p99_ms", Value: 12, Ratio: 0.6}, {Name: "login_rate", Ratio: 0.9}},
		Failed: []Failure{{Figures: "ticket_checks entries", Why: "no listener"}}}
	require.Equal(t, "steady_p99_ratio=0.600 login_rate=0.900 ticket_checks=failed entries=failed", r.RatioLine())
	require.Contains(t, r.Table(), "FAILED  no listener")
}

// A step that failed after measuring some of its figures keeps those, and each key is on the
// last line once.
func TestAPartlyMeasuredStepPrintsEachKeyOnce(t *testing.T) {
	r := &Report{Figures: []Figure{{Name: "api_first_page_p99_ms", Ratio: 0.02}, {Name: "api_concurrent_p99_ms", Ratio: 0.03}},
		Failed: []Failure{{Figures: "api_first_page_p99_ms api_concurrent_p99_ms api_login_rate", Why: "503"}}}
	require.Equal(t, "api_first_page_p99_ratio=0.020 api_concurrent_p99_ratio=0.030 api_login_rate=failed", r.RatioLine())
}

// Figure 1 reports the round of the median ratio, its own rate and baseline with it.
func TestMedianRoundIsTheMiddleRatio(t *testing.T) {
	rounds := []throughputRound{{rate: 10, base: 100}, {rate: 30, base: 100}, {rate: 40, base: 200}}
	m := medianRound(rounds)
	if m.rate != 40 || m.base != 200 {
		t.Fatalf("median of ratios 0.1, 0.3, 0.2: got rate %v base %v", m.rate, m.base)
	}
	if m := medianRound(append(rounds, throughputRound{rate: 1, base: 1})); m.rate != 40 {
		t.Fatalf("four rounds: the lower middle ratio (0.2), got rate %v", m.rate)
	}
	if rounds[0].rate != 10 {
		t.Fatal("the rounds are left in their order")
	}
	// Each figure of figure 1 takes the round of its own median: pipeline to skeleton here.
	rounds = []throughputRound{{rate: 10, skeleton: 20}, {rate: 30, skeleton: 40}, {rate: 40, skeleton: 100}}
	if m := medianBy(rounds, func(r throughputRound) float64 { return r.rate / r.skeleton }); m.rate != 10 {
		t.Fatalf("median of ratios 0.5, 0.75, 0.4: got rate %v", m.rate)
	}
}

// The skeleton forwards copies of the pipeline's records, headers and all, under the
// accounts' own keys, writes the account's row, and ends a measurement only once every event
// of every command came out: a STATE_CHANGED per command, a LOGGED_IN per command at an odd
// offset.
func TestSkeletonCopiesThePipelinesRecords(t *testing.T) {
	s, err := newStack(3, nil)
	require.NoError(t, err)
	defer s.close()
	tenant := []kgo.RecordHeader{{Key: "TENANT_ID", Value: []byte("t-1")}}
	// The values the skeleton may write, per topic it writes them to.
	copied := map[string]map[string]bool{skelMid: {}, "rows": {}, skelOut: {}, skelStatus: {}}
	var keys []string
	for i := uint32(1); i <= 30; i++ {
		ik := model.AccountKeyFor("t", i)
		keys = append(keys, codecs.IDKey(i))
		mid, row := fmt.Sprintf("internal-%d", i), bytes.Repeat([]byte{'r'}, 100+int(i))
		changed := fmt.Sprintf(`{"changed":%d}`, i)
		logged, err := codecs.EncodeAccountStatusEventFast(&codecs.AccountStatusEvent{AccountID: i, Name: "n", Status: codecs.AccountStatusEventStatusLoggedIn})
		require.NoError(t, err)
		created, err := codecs.EncodeAccountStatusEventFast(&codecs.AccountStatusEvent{AccountID: i, Name: "n", Status: codecs.AccountStatusEventStatusCreated})
		require.NoError(t, err)
		copied[skelMid][mid], copied["rows"][string(row)] = true, true
		copied[skelOut][changed], copied[skelStatus][string(logged)] = true, true
		s.send(string(atlas.AccountCommands), ik, []byte(mid), nil)
		s.send(string(goka.GroupTable(atlas.AccountsGroup)), ik, row, nil)
		s.send(string(atlas.EventTopicAccountSessionStatus), codecs.IDKey(i), []byte(changed), tenant)
		s.send(string(atlas.EventTopicAccountStatus), codecs.IDKey(i), logged, tenant)
		s.send(string(atlas.EventTopicAccountStatus), codecs.IDKey(i), created, tenant) // not a LOGGED_IN: never copied
	}
	require.NoError(t, s.prod.Flush(context.Background()))
	k, err := startSkeleton(s, keys)
	require.NoError(t, err)
	defer k.close()

	const total = 40
	rate, gotAtEnd, err := k.measure(keys, [][]byte{[]byte("cmd")}, total, tenant)
	require.NoError(t, err)
	require.Greater(t, rate, 0.0)
	ctx := context.Background()
	all := func(topic string) []*kgo.Record {
		rs, err := sampleRecords(ctx, s, s.name(topic), 1000, nil)
		require.NoError(t, err)
		return rs
	}
	// The internal records: the input's account under its internal key, copied values, no
	// headers; a second stage's LOGGED_IN for each at an odd offset.
	mids, logins := all(skelMid), 0
	require.Len(t, mids, total)
	for _, r := range mids {
		id := binary.LittleEndian.Uint32([]byte(k.publicKey[string(r.Key)]))
		require.Equal(t, model.AccountKeyFor("t", id), string(r.Key))
		require.True(t, copied[skelMid][string(r.Value)], "not a copied internal record: %s", r.Value)
		require.Empty(t, r.Headers)
		logins += int(r.Offset % 2)
	}
	require.EqualValues(t, total+logins, gotAtEnd, "the measurement ended before every event came out")
	for topic, want := range map[string]int{skelOut: total, skelStatus: logins} {
		events := all(topic)
		require.Len(t, events, want, topic)
		for _, r := range events {
			require.True(t, copied[topic][string(r.Value)], "not a copied event of %s: %s", topic, r.Value)
			require.Equal(t, tenant, r.Headers)
			require.Contains(t, keys, string(r.Key))
		}
	}
	rows, err := sampleRecords(ctx, s, s.skelTable(), 1000, nil)
	require.NoError(t, err)
	require.Len(t, rows, total)
	for _, r := range rows {
		require.True(t, copied["rows"][string(r.Value)], "not a copied row")
		require.Contains(t, k.publicKey, string(r.Key))
	}
}
