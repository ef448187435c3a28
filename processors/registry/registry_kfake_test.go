package registry_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/atlasstreams/atlas/views"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	tenantA = codecs.Tenant{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001"), Region: "GMS", Major: 83, Minor: 1}
	tenantB = codecs.Tenant{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001"), Region: "GMS", Major: 87, Minor: 1}
)

// rawHeaders writes the tenant headers byte for byte as FORMAT.md describes them, without
// this project's codecs: the registry must read what any producer writes.
func rawHeaders(t codecs.Tenant) []kgo.RecordHeader {
	ver := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	return []kgo.RecordHeader{
		{Key: "TENANT_ID", Value: []byte(t.ID.String())},
		{Key: "REGION", Value: []byte(t.Region)},
		{Key: "MAJOR_VERSION", Value: ver(t.Major)},
		{Key: "MINOR_VERSION", Value: ver(t.Minor)},
	}
}

func key(id uint32) []byte {
	k := make([]byte, 8)
	binary.LittleEndian.PutUint32(k, id)
	return k
}

// The registry group and a registry view on a Kafka-protocol broker, fed by a plain Kafka
// client: tenants kept apart, logout clears, bad events dead-lettered while processing goes
// on, and an event arriving late from another partition does not undo a newer one.
func TestRegistryFedByAPlainKafkaClient(t *testing.T) {
	o := kafkatest.Broker(t, 3)
	mism, err := o.EnsureTopics(registry.Topics(o))
	require.NoError(t, err)
	require.Empty(t, mism)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proc, err := registry.Start(ctx, o)
	require.NoError(t, err)
	reg := views.StartRegistry(ctx, o)

	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	topic := string(atlas.EventTopicAccountStatus)
	t0 := time.Now().Truncate(time.Millisecond)
	rec := func(partition int32, id uint32, value string, h []kgo.RecordHeader, ts time.Time) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: partition, Key: key(id), Value: []byte(value), Headers: h, Timestamp: ts}
	}
	noTenant := rawHeaders(tenantA)[1:]
	bad := []*kgo.Record{
		rec(0, 5, `{"account_id":5,`, rawHeaders(tenantA), t0),
		rec(1, 5, `{"account_id":5,"name":"x","status":"LOGGED_IN"}`, noTenant, t0),
	}
	require.NoError(t, cl.ProduceSync(ctx,
		rec(0, 7, `{"account_id":7,"name":"bob","status":"LOGGED_IN"}`, rawHeaders(tenantA), t0),
		rec(1, 7, `{"account_id":7,"name":"bob","status":"LOGGED_IN"}`, rawHeaders(tenantB), t0),
		rec(2, 8, `{"account_id":8,"name":"carl","status":"CREATED"}`, rawHeaders(tenantA), t0),
		rec(2, 8, `{"account_id":8,"name":"carl","status":"SOMETHING_NEW"}`, rawHeaders(tenantA), t0),
		bad[0], bad[1],
		// account 9: the logout is written to one partition, the older login to another,
		// after it, as a producer spreading by load may do.
		rec(0, 9, `{"account_id":9,"name":"dora","status":"LOGGED_OUT"}`, rawHeaders(tenantA), t0.Add(time.Second)),
		rec(1, 9, `{"account_id":9,"name":"dora","status":"LOGGED_IN"}`, rawHeaders(tenantA), t0),
		rec(2, 10, `{"account_id":10,"name":"eve","status":"LOGGED_IN"}`, rawHeaders(tenantA), t0),
	).FirstErr())

	loggedIn := func(tn codecs.Tenant, id uint32) bool {
		ok, err := reg.LoggedIn(tn, id)
		return err == nil && ok
	}
	require.Eventually(t, func() bool {
		return proc.Ready() && loggedIn(tenantA, 7) && loggedIn(tenantB, 7) && loggedIn(tenantA, 10)
	}, 60*time.Second, 20*time.Millisecond)
	for _, id := range []uint32{5, 8, 9} {
		require.False(t, loggedIn(tenantA, id), "account %d", id)
	}
	e, err := reg.Entry(tenantA, 8)
	require.NoError(t, err)
	require.Nil(t, e, "CREATED and unknown statuses make no row")
	require.False(t, loggedIn(tenantB, 10), "tenants are apart")

	require.NoError(t, cl.ProduceSync(ctx,
		rec(1, 7, `{"account_id":7,"name":"bob","status":"LOGGED_OUT"}`, rawHeaders(tenantA), t0.Add(time.Second)),
	).FirstErr())
	require.Eventually(t, func() bool {
		e, err := reg.Entry(tenantA, 7)
		return err == nil && e != nil && !e.LoggedIn
	}, 30*time.Second, 20*time.Millisecond)
	require.True(t, loggedIn(tenantB, 7))
	// Account 9: whichever of its two events was applied last, the newer logout stands.
	require.Eventually(t, func() bool {
		e, err := reg.Entry(tenantA, 9)
		return err == nil && e != nil && !e.LoggedIn && e.TimestampMs == t0.Add(time.Second).UnixMilli()
	}, 30*time.Second, 20*time.Millisecond)

	// The two bad events are in the dead-letter topic, bytes and headers kept, with reasons.
	dl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumeTopics(string(atlas.DeadLetterTopic)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer dl.Close()
	var got []*kgo.Record
	pollCtx, pollCancel := context.WithTimeout(ctx, 30*time.Second)
	defer pollCancel()
	for len(got) < len(bad) && pollCtx.Err() == nil {
		dl.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	require.Len(t, got, len(bad))
	reasons := map[string]string{}
	for _, r := range got {
		h := map[string][]byte{}
		for _, kv := range r.Headers {
			h[kv.Key] = kv.Value
		}
		d, err := codecs.DeadLetterFromHeaders(h)
		require.NoError(t, err)
		require.Equal(t, topic, d.Topic)
		require.Equal(t, string(atlas.RegistryGroup), d.Group)
		require.Equal(t, key(5), r.Key)
		reasons[string(r.Value)] = d.Reason
	}
	require.Contains(t, reasons[string(bad[0].Value)], "malformed")
	require.Contains(t, reasons[string(bad[1].Value)], "TENANT_ID")

	cancel()
	<-proc.Done()
	<-reg.Done()
}

// Goka needs the input, loop and table co-partitioned; the input's count is upstream's, so
// Start creates the group's topics to match it, or refuses with a clear error.
func TestStartMatchesTheInputsPartitions(t *testing.T) {
	t.Run("a", func(t *testing.T) {
		o := kafkatest.Broker(t, 3)
		_, err := o.EnsureTopics([]runtime.TopicSpec{{Name: string(atlas.EventTopicAccountStatus), Partitions: 2}})
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(context.Background())
		proc, err := registry.Start(ctx, o)
		require.NoError(t, err)
		cancel()
		<-proc.Done()
		o.Partitions = 2
		mism, err := o.EnsureTopics(registry.Topics(o))
		require.NoError(t, err)
		require.Empty(t, mism, "loop and table were created with the input's 2 partitions")
	})
	t.Run("b", func(t *testing.T) {
		o3 := kafkatest.Broker(t, 3)
		_, err := o3.EnsureTopics(append(o3.Tables(atlas.RegistryTable),
			runtime.TopicSpec{Name: string(atlas.EventTopicAccountStatus), Partitions: 1}))
		require.NoError(t, err)
		_, err = registry.Start(context.Background(), o3)
		require.ErrorContains(t, err, "must have as many")
	})
}
