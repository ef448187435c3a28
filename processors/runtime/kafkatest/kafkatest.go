// Package kafkatest gives integration tests a Kafka-protocol broker and plain clients: an
// in-process kfake cluster, or the real broker named by KAFKA_BROKERS when it is set.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker starts a broker for the test and returns runtime options for it with the given
// partition count. With KAFKA_BROKERS set, that broker is used instead: it must be fresh for
// the run, since topic names are the product's and tests expect to start from empty topics.
func Broker(t testing.TB, partitions int) runtime.Options {
	t.Helper()
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		o := runtime.DefaultOptions(strings.Split(b, ",")...)
		o.Partitions = partitions
		return o
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	o := runtime.DefaultOptions(c.ListenAddrs()...)
	o.Partitions = partitions
	return o
}

// Record is a consumed record.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   map[string][]byte
}

// Tenant decodes the record's tenant headers.
func (r Record) Tenant() (codecs.Tenant, error) { return codecs.TenantFromHeaders(r.Headers) }

// Consumer reads topics from their start with a plain Kafka client (no consumer group, no
// code of this project on the path), collecting every record.
type Consumer struct {
	mu      sync.Mutex
	records []Record
	cancel  context.CancelFunc
	done    chan struct{}
}

// Consume starts collecting topics.
func Consume(t testing.TB, o runtime.Options, topics ...string) *Consumer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				rec := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Headers: map[string][]byte{}}
				for _, h := range r.Headers {
					rec.Headers[h.Key] = h.Value
				}
				c.mu.Lock()
				c.records = append(c.records, rec)
				c.mu.Unlock()
			})
		}
	}()
	t.Cleanup(c.Close)
	return c
}

// Close stops the consumer.
func (c *Consumer) Close() { c.cancel(); <-c.done }

// Records returns a copy of what was read so far.
func (c *Consumer) Records() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

// WaitFor waits until cond holds over the records read so far, failing the test after
// timeout with describe's text.
func (c *Consumer) WaitFor(t testing.TB, timeout time.Duration, cond func([]Record) bool, describe func([]Record) string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := c.Records()
		if cond(recs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, describe(recs))
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

// Producer is a plain Kafka producer.
type Producer struct {
	cl *kgo.Client
	t  testing.TB
}

// NewProducer connects a producer that partitions by key hash, as most clients do.
func NewProducer(t testing.TB, o runtime.Options) *Producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.ProducerLinger(time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &Producer{cl: cl, t: t}
}

// Produce writes one record synchronously.
func (p *Producer) Produce(topic string, key, value []byte, headers map[string][]byte) {
	p.t.Helper()
	rec := &kgo.Record{Topic: topic, Key: key, Value: value}
	for k, v := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(p.t, p.cl.ProduceSync(ctx, rec).FirstErr(), "produce to %s", topic)
}

// ProduceAsync writes one record without waiting; Flush waits for all.
func (p *Producer) ProduceAsync(topic string, key, value []byte, headers map[string][]byte) {
	rec := &kgo.Record{Topic: topic, Key: key, Value: value}
	for k, v := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	p.cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			p.t.Errorf("produce to %s: %v", topic, err)
		}
	})
}

// Flush waits until every record produced so far is acknowledged.
func (p *Producer) Flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		p.t.Fatalf("flush: %v", err)
	}
}

// Describe summarises records per topic, for failure messages.
func Describe(recs []Record) string {
	n := map[string]int{}
	for _, r := range recs {
		n[r.Topic]++
	}
	return fmt.Sprint(n)
}
