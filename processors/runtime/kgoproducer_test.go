package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The processors' producer puts each record where Sarama's would (Goka's hasher, so tables
// and their inputs stay co-partitioned with every other writer), in order per key, with its
// headers, and hands Goka each record's offset (stored with a table row) once it is written.
func TestProducerPlacesRecordsAsGokaDoes(t *testing.T) {
	o := kafkatest.Broker(t, 3)
	topic := kafkatest.Name("producer-placement")
	_, err := o.EnsureTopics([]runtime.TopicSpec{{Name: topic, Partitions: 3}})
	require.NoError(t, err)
	p, err := o.ProducerBuilder()(o.Brokers, "test", goka.DefaultHasher())
	require.NoError(t, err)

	var mu sync.Mutex
	offsets := map[string][]int64{} // key -> offsets in the order its records were emitted
	var failed []error
	const keys, perKey = 20, 5
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key-%d", k)
			pr := p.EmitWithHeaders(topic, key, []byte(fmt.Sprintf("%s/%d", key, i)), goka.Headers{"h": []byte(key)})
			pr.ThenWithMessage(func(m *sarama.ProducerMessage, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				offsets[key] = append(offsets[key], m.Offset)
			})
		}
	}
	require.NoError(t, p.Close()) // sends what is buffered
	mu.Lock()
	require.Empty(t, failed)
	require.Len(t, offsets, keys)
	for key, offs := range offsets {
		require.Len(t, offs, perKey, key)
	}
	mu.Unlock()

	cl, err := kgo.NewClient(append(o.KafkaClientOpts(), topicread.ReaderOpts()...)...)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := topicread.EndOffsets(ctx, cl, topic, 10*time.Second)
	require.NoError(t, err)
	hashed := sarama.NewCustomHashPartitioner(goka.DefaultHasher())(topic)
	seen := map[string]int{}
	err = topicread.Read(ctx, cl, topic, map[int32]int64{0: 0, 1: 0, 2: 0}, ends, func(r *kgo.Record) bool {
		key := string(r.Key)
		want, err := hashed.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, 3)
		require.NoError(t, err)
		require.Equal(t, want, r.Partition, "partition of %s", key)
		require.Equal(t, fmt.Sprintf("%s/%d", key, seen[key]), string(r.Value), "records of a key in order")
		require.Equal(t, offsets[key][seen[key]], r.Offset, "the offset handed to Goka")
		require.Equal(t, []kgo.RecordHeader{{Key: "h", Value: r.Key}}, r.Headers)
		seen[key]++
		return true
	})
	require.NoError(t, err)
	require.Len(t, seen, keys)
	for key, n := range seen {
		require.Equal(t, perKey, n, key)
	}
}

// A record over the record limit fails its promise (the processor then fails and restarts)
// instead of being dropped or blocking.
func TestProducerFailsARecordOverTheLimit(t *testing.T) {
	o := kafkatest.Broker(t, 1)
	o.MaxRecordBytes = 2000
	topic := kafkatest.Name("producer-limit")
	_, err := o.EnsureTopics([]runtime.TopicSpec{{Name: topic, Partitions: 1}})
	require.NoError(t, err)
	p, err := o.ProducerBuilder()(o.Brokers, "test", goka.DefaultHasher())
	require.NoError(t, err)
	defer p.Close()
	done := make(chan error, 1)
	p.Emit(topic, "k", bytes.Repeat([]byte{'x'}, 5000)).Then(func(err error) { done <- err })
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the promise of an oversized record never finished")
	}
}
