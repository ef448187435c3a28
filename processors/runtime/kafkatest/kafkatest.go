// Package kafkatest gives integration tests a Kafka-protocol broker and plain clients: an
// in-process kfake cluster, or, only when ATLAS_TEST_KAFKA_BROKERS is set, that real broker.
// KAFKA_BROKERS is the product's variable and changes nothing here: a shell pointed at a
// shared cluster runs `make test` on kfake as anywhere else.
//
// On a real broker every name is the run's: ATLAS_NAME_PREFIX must be set (test/kafka
// gives each run a random one), the product puts it before every topic and group it uses,
// tests name their own topics with Name, and the reset between tests deletes only topics and
// groups that carry the prefix. Nothing else on the cluster is read, written or deleted.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker starts a broker for the test and returns runtime options for it with the given
// partition count.
//
// With ATLAS_TEST_KAFKA_BROKERS set, that broker is used instead, and since the product's topic
// names are fixed within a run, the run's own topics and groups (ATLAS_NAME_PREFIX) are deleted
// first, and Broker returns once the broker no longer lists them. Tests that call Broker take
// turns, within a package (a parallel test waits until the one holding the broker has finished
// and cleaned up) and across the test processes of one machine (a lock file per broker list);
// still, run packages one at a time (go test -p 1), or their
// tests wait for each other's and count that waiting against their own timeouts. A test calls
// Broker once: a subtest cannot get a broker of its own while its parent holds it.
func Broker(t testing.TB, partitions int) runtime.Options {
	t.Helper()
	if b := RealBrokers(); b != "" {
		if err := checkPrefix(); err != nil {
			t.Fatal(err)
		}
		brokers := runtime.ParseBrokers(b)
		hold(t)
		start := time.Now()
		groups, topics, err := reset(brokers)
		if err != nil {
			t.Fatalf("kafkatest: resetting the broker at %s: %v", b, err)
		}
		t.Logf("kafkatest: broker %s reset in %s: deleted %d consumer groups, %d topics",
			b, time.Since(start).Round(time.Millisecond), groups, topics)
		o := runtime.DefaultOptions(brokers...)
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

// ForMain is Broker for a TestMain whose tests share one broker state, set up once before
// m.Run: a new kfake cluster, or the broker in ATLAS_TEST_KAFKA_BROKERS, reset as Broker resets it and
// held against other test processes until release is called (after m.Run). The package's tests
// then must not call Broker themselves.
func ForMain(partitions int) (o runtime.Options, release func(), err error) {
	b := RealBrokers()
	if b != "" {
		if err := checkPrefix(); err != nil {
			return o, nil, err
		}
	}
	if b == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
		if err != nil {
			return o, nil, err
		}
		o = runtime.DefaultOptions(c.ListenAddrs()...)
		o.Partitions = partitions
		return o, c.Close, nil
	}
	brokers := runtime.ParseBrokers(b)
	turn <- struct{}{}
	unlock, err := lockBroker(b)
	if err != nil {
		<-turn
		return o, nil, fmt.Errorf("kafkatest: locking the broker against other test processes: %w", err)
	}
	holderMu.Lock()
	holderNow = mainHolder
	holderMu.Unlock()
	release = func() {
		holderMu.Lock()
		holderNow = ""
		holderMu.Unlock()
		unlock()
		<-turn
	}
	if _, _, err := reset(brokers); err != nil {
		release()
		return o, nil, fmt.Errorf("kafkatest: resetting the broker at %s: %w", b, err)
	}
	o = runtime.DefaultOptions(brokers...)
	o.Partitions = partitions
	return o, release, nil
}

// RealBrokersEnv names the real broker of the Kafka test lane.
const RealBrokersEnv = "ATLAS_TEST_KAFKA_BROKERS"

// RealBrokers is the real broker tests run against, "" for kfake.
func RealBrokers() string { return os.Getenv(RealBrokersEnv) }

// Name is a topic or group name of a test: the run's prefix, then name.
func Name(name string) string { return atlas.NamePrefix + name }

// checkPrefix refuses a real broker without a run prefix: the reset would have no way to tell
// the run's topics from anyone else's.
func checkPrefix() error {
	if atlas.NamePrefix == "" {
		return fmt.Errorf("kafkatest: %s is set but ATLAS_NAME_PREFIX is not: give the run a prefix of its own "+
			"(test/kafka/integration.sh makes a random one); only topics and groups with it are ever deleted", RealBrokersEnv)
	}
	return nil
}

// mainHolder holds the broker for a package's TestMain (ForMain).
const mainHolder = "TestMain"

// The real broker is one shared state: one test at a time uses it.
var (
	turn      = make(chan struct{}, 1)
	holderMu  sync.Mutex
	holderNow string
)

func hold(t testing.TB) {
	t.Helper()
	holderMu.Lock()
	h := holderNow
	holderMu.Unlock()
	if h == mainHolder {
		t.Fatalf("kafkatest: TestMain holds the broker (ForMain); this package's tests share it and cannot call Broker")
	}
	if h != "" && (h == t.Name() || strings.HasPrefix(t.Name(), h+"/")) {
		t.Fatalf("kafkatest: %s already holds the broker; call Broker once per test, not again in a subtest", h)
	}
	turn <- struct{}{}
	unlock, err := lockBroker(RealBrokers())
	if err != nil {
		<-turn
		t.Fatalf("kafkatest: locking the broker against other test processes: %v", err)
	}
	holderMu.Lock()
	holderNow = t.Name()
	holderMu.Unlock()
	// Registered before anything the test starts after Broker, so it runs after their cleanups.
	t.Cleanup(func() {
		holderMu.Lock()
		holderNow = ""
		holderMu.Unlock()
		unlock()
		<-turn
	})
}

// resetTimeout bounds reset: groups whose members are still alive (a consumer of a test that
// did not stop it) can be deleted only when their session times out.
const resetTimeout = 2 * time.Minute

// reset deletes the run's consumer groups and topics (those starting with ATLAS_NAME_PREFIX) on
// the cluster at brokers, and waits until the cluster no longer lists any of them. Kafka deletes topics
// asynchronously: a topic of the same name created before then could fail or, worse, be the
// old one. It returns how many groups and topics it found to delete.
func reset(brokers []string) (groups, topics int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("atlas-kafkatest-reset"),
		kgo.RetryTimeout(10*time.Second))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	if groups, err = deleteGroups(ctx, cl); err != nil {
		return groups, 0, err
	}
	topics, err = deleteTopics(ctx, cl)
	return groups, topics, err
}

// retry runs step until it reports done, pausing between attempts, until ctx ends.
func retry(ctx context.Context, what string, step func() (done bool, state string, err error)) error {
	var state string
	for {
		done, s, err := step()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		state = s
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: still %s after %s", what, state, resetTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func listGroups(ctx context.Context, cl *kgo.Client) ([]string, error) {
	var groups []string
	for _, shard := range cl.RequestSharded(ctx, kmsg.NewPtrListGroupsRequest()) {
		if shard.Err != nil {
			return nil, fmt.Errorf("list groups: %w", shard.Err)
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if errors.Is(err, kerr.CoordinatorLoadInProgress) {
				return nil, nil // the offsets topic is loading: no groups can exist yet
			}
			return nil, fmt.Errorf("list groups: %w", err)
		}
		for _, g := range resp.Groups {
			if ours(g.Group) {
				groups = append(groups, g.Group)
			}
		}
	}
	sort.Strings(groups)
	return groups, nil
}

func deleteGroups(ctx context.Context, cl *kgo.Client) (int, error) {
	seen := map[string]bool{}
	err := retry(ctx, "deleting consumer groups", func() (bool, string, error) {
		groups, err := listGroups(ctx, cl)
		if err != nil || len(groups) == 0 {
			return err == nil, "", err
		}
		for _, g := range groups {
			seen[g] = true
		}
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = groups
		var busy []string
		for _, shard := range cl.RequestSharded(ctx, req) {
			if shard.Err != nil {
				if ctx.Err() != nil {
					return false, "", fmt.Errorf("delete groups %v: %w", groups, shard.Err)
				}
				busy = append(busy, shard.Err.Error())
				continue
			}
			for _, g := range shard.Resp.(*kmsg.DeleteGroupsResponse).Groups {
				switch err := kerr.ErrorForCode(g.ErrorCode); {
				case err == nil, errors.Is(err, kerr.GroupIDNotFound):
				case kerr.IsRetriable(err), errors.Is(err, kerr.NonEmptyGroup):
					// Members of a consumer that did not leave stay until their session ends.
					busy = append(busy, g.Group+": "+err.Error())
				default:
					return false, "", fmt.Errorf("delete group %s: %w", g.Group, err)
				}
			}
		}
		return false, fmt.Sprintf("there: %v", busy), nil
	})
	return len(seen), err
}

// ours reports whether a topic or group belongs to this run; never one of Kafka's own.
func ours(name string) bool {
	return atlas.NamePrefix != "" && strings.HasPrefix(name, atlas.NamePrefix) && !strings.HasPrefix(name, "__")
}

// userTopics lists the run's topics.
func userTopics(ctx context.Context, cl *kgo.Client) ([]string, error) {
	req := kmsg.NewPtrMetadataRequest() // no topics: all of them
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var topics []string
	for _, tp := range resp.Topics {
		if tp.Topic == nil || tp.IsInternal || !ours(*tp.Topic) {
			continue
		}
		topics = append(topics, *tp.Topic)
	}
	sort.Strings(topics)
	return topics, nil
}

func deleteTopics(ctx context.Context, cl *kgo.Client) (int, error) {
	var lastDelete time.Time
	seen := map[string]bool{}
	err := retry(ctx, "deleting topics", func() (bool, string, error) {
		topics, err := userTopics(ctx, cl)
		if err != nil || len(topics) == 0 {
			return err == nil, "", err
		}
		for _, tp := range topics {
			seen[tp] = true
		}
		state := fmt.Sprintf("listed: %v", topics)
		if time.Since(lastDelete) < 5*time.Second {
			return false, state, nil // deleted a moment ago: wait for the metadata to show it
		}
		lastDelete = time.Now()
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 30000
		req.TopicNames = topics // up to v5; v6 on take Topics
		for _, name := range topics {
			dt := kmsg.NewDeleteTopicsRequestTopic()
			dt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, dt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return false, "", fmt.Errorf("delete topics %v: %w", topics, err)
		}
		for _, tp := range resp.Topics {
			err := kerr.ErrorForCode(tp.ErrorCode)
			if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) && !kerr.IsRetriable(err) {
				name := ""
				if tp.Topic != nil {
					name = *tp.Topic
				}
				return false, "", fmt.Errorf("delete topic %s: %w", name, err)
			}
		}
		return false, state, nil
	})
	return len(seen), err
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
