package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/deadletter/replay"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// An operator lists the dead letters, looks at one, and replays it to the topic it came from
// with its key and original headers; a dead letter whose value was cut is not replayed.
func TestDeadLetterListShowReplay(t *testing.T) {
	dlq, origin := string(atlas.DeadLetterTopic), string(atlas.CommandTopicCreateAccount)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, dlq, origin))
	require.NoError(t, err)
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(origin), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
	original := goka.Headers(tenant.Headers())
	original[codecs.HeaderTraceParent] = []byte(codecs.NewTrace().ParentString())
	put := func(d codecs.DeadLetter, value string, extra map[string]string) *kgo.Record {
		h := d.Headers(original)
		for k, v := range extra {
			h[k] = []byte(v)
		}
		rec := &kgo.Record{Topic: dlq, Key: []byte(codecs.IDKey(7)), Value: []byte(value)}
		for k, v := range h {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
		require.NoError(t, cl.ProduceSync(ctx, rec).FirstErr())
		return rec
	}
	fixed := put(codecs.DeadLetter{Topic: origin, Partition: 1, Offset: 5, Group: "Account Service", Reason: "invalid command: name too long"},
		`{"name":"bob","password":"secret"}`, nil)
	cut := put(codecs.DeadLetter{Topic: origin, Partition: 0, Offset: 9, Group: "Account Service", Reason: "oversize: 2 MB"},
		`{"name":"x"}`, map[string]string{codecs.HeaderDLQOriginalLength: "2000000"})

	atlasRun := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		cmd := exec.Command(atlasBin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	out, stderr, err := atlasRun("dlq", "list", "--brokers", brokers)
	require.NoError(t, err, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	var entries []replay.Entry
	for _, l := range lines {
		var e replay.Entry
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		entries = append(entries, e)
	}
	byReason := map[string]replay.Entry{}
	for _, e := range entries {
		byReason[e.Reason] = e
	}
	require.Equal(t, "1/5", byReason["invalid command: name too long"].From)
	require.Equal(t, origin, byReason["invalid command: name too long"].Topic)
	require.True(t, byReason["oversize: 2 MB"].Cut)
	out, _, err = atlasRun("dlq", "list", "--brokers", brokers, "--reason", "oversize")
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(out, "\n"), "filtered by reason")

	out, stderr, err = atlasRun("dlq", "show", "--brokers", brokers, "--at", replay.Position{Partition: fixed.Partition, Offset: fixed.Offset}.String())
	require.NoError(t, err, stderr)
	require.Contains(t, out, `"value":{"name":"bob","password":"secret"}`)

	out, stderr, err = atlasRun("dlq", "replay", "--brokers", brokers, "--at", replay.Position{Partition: fixed.Partition, Offset: fixed.Offset}.String())
	require.NoError(t, err, stderr)
	require.Contains(t, out, "replayed "+replay.Position{Partition: fixed.Partition, Offset: fixed.Offset}.String())
	var replayed *kgo.Record
	for replayed == nil {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "the replayed record never came")
		fs.EachRecord(func(r *kgo.Record) { replayed = r })
	}
	require.Equal(t, fixed.Key, replayed.Key)
	require.Equal(t, fixed.Value, replayed.Value)
	h := topicread.HeaderMap(replayed.Headers)
	got, err := codecs.TenantFromHeaders(h)
	require.NoError(t, err)
	require.Equal(t, tenant, got, "the original headers go with it")
	require.Equal(t, original[codecs.HeaderTraceParent], h[codecs.HeaderTraceParent])
	for k := range h {
		require.False(t, strings.HasPrefix(k, "x-atlas-dlq-"), "no dead-letter header on the replayed record: %s", k)
	}

	_, stderr, err = atlasRun("dlq", "replay", "--brokers", brokers, "--at", replay.Position{Partition: cut.Partition, Offset: cut.Offset}.String())
	require.Error(t, err)
	require.Contains(t, stderr, "cut to fit")
	_, stderr, err = atlasRun("dlq", "show", "--brokers", brokers, "--at", "1/999")
	require.Error(t, err)
	require.Contains(t, stderr, "no dead letter at 1/999")
	_, _, err = atlasRun("dlq", "replay", "--brokers", brokers)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.ExitCode(), "--at is required")
}

// atlas tail fails on a topic that does not exist instead of waiting on it silently.
func TestTailRefusesAnUnknownTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	defer c.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(atlasBin, "tail", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", "no-such-topic", "--idle", "1s")
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, stderr.String())
	require.Equal(t, 1, ee.ExitCode())
	require.Contains(t, stderr.String(), "no-such-topic")
}

// atlas lag shows how far a group is behind on each partition.
func TestLagPerGroupAndPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "lag-topic"))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer prod.Close()
	for i := 0; i < 5; i++ {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Topic: "lag-topic", Value: []byte("m")}).FirstErr())
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("lag-group"), kgo.ConsumeTopics("lag-topic"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	require.NoError(t, err)
	defer cons.Close()
	var got []*kgo.Record
	for len(got) < 5 {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got = append(got, fs.Records()...)
	}
	require.NoError(t, cons.CommitRecords(ctx, got[2])) // the group is past 3 of 5
	out, err := exec.Command(atlasBin, "lag", "--brokers", strings.Join(c.ListenAddrs(), ","), "--group", "lag-group").Output()
	require.NoError(t, err)
	var l lagLine
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(out), &l), "%s", out)
	require.Equal(t, lagLine{Group: "lag-group", Topic: "lag-topic", Partition: 0, Committed: 3, End: 5, Lag: 2}, l)
}

// atlas emit takes extra headers (a trace to follow), says where it wrote, and warns when the
// product's consumers will ignore the message.
func TestEmitHeadersAndIgnoredWarning(t *testing.T) {
	topic := string(atlas.EventTopicAccountStatus)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	require.NoError(t, err)
	defer c.Close()
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var out, stderr bytes.Buffer
	cmd := exec.Command(atlasBin, "emit", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", "EVENT_TOPIC_ACCOUNT_STATUS",
		"--tenant", uuid.NewString(), "--header", "traceparent="+tp, "--header", "x-note=hello",
		`{"account_id":7,"name":"bob","status":"DELETED"}`)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Contains(t, out.String(), "partition 0 offset 0, trace 0af7651916cd43dd8448eb211c80319c")
	require.Contains(t, stderr.String(), "warning: the channel ignores EVENT_TOPIC_ACCOUNT_STATUS DELETED")

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r *kgo.Record
	for r == nil {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachRecord(func(x *kgo.Record) { r = x })
	}
	h := topicread.HeaderMap(r.Headers)
	require.Equal(t, tp, string(h[codecs.HeaderTraceParent]))
	require.Equal(t, "hello", string(h["x-note"]))
	require.Equal(t, 1, strings.Count(fmt.Sprint(r.Headers), codecs.HeaderTraceParent), "the given trace replaces the new one")
}

// atlas tail reads to the end the topic had when it started (or follows it), from where
// --from says, of every partition or one, at most --count messages.
func TestTailFlags(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "tail-topic"))
	require.NoError(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, p := range []int32{0, 0, 0, 1, 1} {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "tail-topic", Partition: p, Key: []byte("k"), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}).FirstErr())
	}
	lines := func(args ...string) int {
		out, err := exec.Command(atlasBin, append([]string{"tail", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", "tail-topic"}, args...)...).Output()
		require.NoError(t, err, "%v", args)
		return strings.Count(string(out), "\n")
	}
	require.Equal(t, 5, lines(), "to the end, then it stops")
	require.Equal(t, 2, lines("--count", "2"))
	require.Equal(t, 2, lines("--partition", "1"))
	require.Equal(t, 2, lines("--partition", "0", "--from", "1"))
	require.Equal(t, 0, lines("--from", "newest"))
	require.Equal(t, 5, lines("--follow", "--idle", "1s"))
	require.Equal(t, 5, lines("--from", time.Now().Add(-time.Hour).Format(time.RFC3339)))
	err = exec.Command(atlasBin, "tail", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", "tail-topic", "--from", "3").Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.ExitCode(), "an offset needs a partition")
}
