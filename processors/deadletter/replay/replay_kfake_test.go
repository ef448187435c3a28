package replay

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// broker is a kfake cluster with the topics, each of n partitions, and a product client of it
// (runtime's options, as atlas dlq and the console make theirs).
func broker(t *testing.T, n int32, topics ...string) (*kfake.Cluster, *kgo.Client) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(n, topics...))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, product(t, c)
}

func product(t *testing.T, c *kfake.Cluster) *kgo.Client {
	o := runtime.DefaultOptions(c.ListenAddrs()...)
	cl, err := kgo.NewClient(append(o.KafkaClientOpts(), topicread.ReaderOpts()...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func letterHeaders(topic string, partition int32) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	for k, v := range (codecs.DeadLetter{Topic: topic, Partition: partition, Offset: 1, Group: "g", Reason: "r"}).Headers(nil) {
		hs = append(hs, kgo.RecordHeader{Key: k, Value: v})
	}
	return hs
}

// A replayed command must reach the partition Goka chose for its key: that partition's
// instance holds the key's state.
func TestReplayGoesToThePartitionGokaUsesForTheKey(t *testing.T) {
	const n = 12
	_, cl := broker(t, n, "orig", "dlq")
	goka := sarama.NewCustomHashPartitioner(goka.DefaultHasher())("orig")
	for i := range 20 {
		key := []byte(codecs.IDKey(uint32(i + 1)))
		want, err := goka.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, n)
		require.NoError(t, err)
		res, err := Replay(context.Background(), cl, &kgo.Record{Topic: "dlq", Offset: int64(i), Key: key, Value: []byte("{}"), Headers: letterHeaders("orig", want)})
		require.NoError(t, err)
		require.Equal(t, want, res.Partition, "key %d", i+1)
	}
}

// A partition that ends in a transaction marker ends all the same: no read waits for a
// record that will never come.
func TestReadsEndAtATrailingTransactionMarker(t *testing.T) {
	c, cl := broker(t, 1, "dlq")
	tx, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("dlq-writer"))
	require.NoError(t, err)
	defer tx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, tx.BeginTransaction())
	require.NoError(t, tx.ProduceSync(ctx, &kgo.Record{Topic: "dlq", Value: []byte("{}"), Headers: letterHeaders("T", 0)}).FirstErr())
	require.NoError(t, tx.EndTransaction(ctx, kgo.TryCommit))

	start := time.Now()
	es, err := Reader{Client: cl, Topic: "dlq"}.Newest(ctx, Filter{}, 50)
	require.NoError(t, err)
	require.Len(t, es, 1, "the marker is not a dead letter")
	require.Less(t, time.Since(start), 4*time.Second, "the read ended at the marker, not after a quiet spell")
}

// A position whose record is gone (below the log start) is not found, at once.
func TestFindBelowTheLogStartIsNotFound(t *testing.T) {
	_, cl := broker(t, 1, "dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "dlq", Value: []byte("{}"), Headers: letterHeaders("T", 0)}).FirstErr())
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "dlq"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	_, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)

	_, err = Reader{Client: cl, Topic: "dlq"}.Find(ctx, Position{0, 1})
	require.ErrorIs(t, err, ErrNotFound)
	es, err := Reader{Client: cl, Topic: "dlq"}.Newest(ctx, Filter{}, 50)
	require.NoError(t, err)
	require.Empty(t, es)
}

// Several positions of one partition are found in one read, and each is the record there.
func TestFindSeveralPositionsOfOnePartition(t *testing.T) {
	_, cl := broker(t, 2, "dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 5 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "dlq", Partition: 0, Key: []byte{byte(i)}, Value: []byte("{}"), Headers: letterHeaders("T", 0)}).FirstErr())
	}
	var at []Position
	it := Reader{Client: cl, Topic: "dlq"}
	require.NoError(t, it.Each(ctx, Filter{}, func(e Entry, _ *kgo.Record) bool {
		at = append(at, Position{e.Partition, e.Offset})
		return true
	}))
	require.Len(t, at, 5)
	found, err := it.Find(ctx, at[3], at[1])
	require.NoError(t, err)
	require.Len(t, found, 2)
	for _, p := range []Position{at[1], at[3]} {
		require.Equal(t, p.Offset, found[p].Offset)
	}
}
