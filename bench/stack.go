package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"
)

// stack is the embedded broker, the account service and two plain clients: a producer of
// commands and a consumer that hands every event to the handler registered for its tenant or
// topic. Each phase of the benchmark uses a tenant of its own, so phases never see each
// other's events.
type stack struct {
	cluster *kfake.Cluster // nil against external brokers
	opts    runtime.Options
	sealer  *seal.Sealer
	run     string // suffix of the bench's own topic and group names ("" on the embedded broker)

	svcCancel context.CancelFunc
	svc       *account.Running

	prod *kgo.Client
	cons *kgo.Client

	mu       sync.Mutex
	byTenant map[string]func(*kgo.Record, time.Time)
	byTopic  map[string]func(*kgo.Record, time.Time)
	stop     chan struct{}
	stopped  chan struct{}
}

// newStack starts the stack on an embedded broker, or against brokers when some are given.
// The bench's own streams (the baselines'), named by s.name; the consumer reads only the ones
// whose records end a measurement: a baseline whose input were fetched too would pay for a
// consumer the pipeline does not have.
var (
	benchStreamBases   = []string{passIn, passOut, skelIn, skelMid, skelOut, skelStatus}
	benchConsumedBases = []string{passOut, skelOut, skelStatus}
)

func newStack(partitions int, brokers []string) (*stack, error) {
	s := &stack{byTenant: map[string]func(*kgo.Record, time.Time){}, byTopic: map[string]func(*kgo.Record, time.Time){},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if len(brokers) == 0 {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, err
		}
		s.cluster = c
		s.opts = runtime.DefaultOptions(c.ListenAddrs()...)
	} else {
		// The product's topics and groups are named by ATLAS_NAME_PREFIX: without one, the
		// bench would join a deployment's own groups on that cluster.
		if atlas.NamePrefix == "" {
			return nil, errors.New("bench --brokers needs ATLAS_NAME_PREFIX: the product's topics and groups of the run are named with it, never a deployment's")
		}
		o, err := runtime.OptionsFromEnv()
		if err != nil {
			return nil, err
		}
		o.Brokers = brokers
		s.opts = o
		// A shared cluster keeps what earlier runs wrote: this run's own topics and groups
		// get names of their own (and are deleted at the end).
		s.run = "-" + uuid.NewString()[:8]
	}
	s.opts.Partitions = partitions
	specs := account.Topics(s.opts)
	for _, base := range benchStreamBases {
		specs = append(specs, s.opts.Streams(goka.Stream(s.name(base)))...)
	}
	specs = append(specs, s.opts.Tables(goka.Table(s.skelTable()))...)
	mism, err := s.opts.EnsureTopics(specs)
	if err == nil && len(mism) > 0 {
		err = fmt.Errorf("topics of another shape exist already (%v): use another ATLAS_NAME_PREFIX", mism)
	}
	if err != nil {
		s.closeCluster()
		return nil, err
	}
	if s.sealer, err = seal.New(seal.RandomKey()); err != nil {
		return nil, err
	}
	if s.prod, err = kgo.NewClient(append(s.opts.KafkaClientOpts(), kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedRecords(1<<20))...); err != nil {
		return nil, err
	}
	topics := []string{string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus)}
	for _, base := range benchConsumedBases {
		topics = append(topics, s.name(base))
	}
	if s.cons, err = kgo.NewClient(append(s.opts.KafkaClientOpts(), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))...); err != nil {
		return nil, err
	}
	go s.route()
	return s, nil
}

// startService starts (or restarts, with another bcrypt cost) the account service and waits
// until it has recovered.
func (s *stack) startService(cost int, transitionTimeout time.Duration) error {
	s.stopService()
	cfg := model.DefaultConfig()
	cfg.BcryptCost = cost
	cfg.TransitionTimeout = transitionTimeout
	ctx, cancel := context.WithCancel(context.Background())
	r, err := account.Service{Options: s.opts, Config: cfg, Passwords: model.Passwords{Cost: cost, Sealer: s.sealer}}.Start(ctx)
	if err != nil {
		cancel()
		return err
	}
	s.svc, s.svcCancel = r, cancel
	deadline := time.Now().Add(2 * time.Minute)
	for !r.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("account service not ready after 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (s *stack) stopService() {
	if s.svcCancel != nil {
		s.svcCancel()
		<-s.svc.Done()
		s.svcCancel, s.svc = nil, nil
	}
}

func (s *stack) close() {
	s.stopService()
	close(s.stop)
	<-s.stopped
	if s.run != "" {
		s.deleteOwnTopics()
	}
	s.prod.Close()
	s.cons.Close()
	s.closeCluster()
}

// deleteOwnTopics deletes the topics this run made for itself on an outside cluster.
func (s *stack) deleteOwnTopics() {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 10000
	names := []string{s.skelTable()}
	for _, base := range slices.Concat(benchStreamBases, []string{apiTable, recoveryTable}) {
		names = append(names, s.name(base))
	}
	for _, name := range names {
		req.TopicNames = append(req.TopicNames, name)
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _ = req.RequestWith(ctx, s.prod) // a topic this run never made is simply not there
}

func (s *stack) closeCluster() {
	if s.cluster != nil {
		s.cluster.Close()
	}
}

// name is the name of one of the bench's own topics, tables or groups in this run.
func (s *stack) name(base string) string { return atlas.NamePrefix + base + s.run }

// onTenant routes the events of a tenant to h (nil removes the route).
func (s *stack) onTenant(t codecs.Tenant, h func(*kgo.Record, time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.byTenant, t.ID.String())
		return
	}
	s.byTenant[t.ID.String()] = h
}

// onTopic routes every record of a benchmark topic to h.
func (s *stack) onTopic(topic string, h func(*kgo.Record, time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.byTopic, topic)
		return
	}
	s.byTopic[topic] = h
}

func (s *stack) route() {
	defer close(s.stopped)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.stop; cancel() }()
	for ctx.Err() == nil {
		fs := s.cons.PollFetches(ctx)
		now := time.Now()
		s.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if h := s.byTopic[r.Topic]; h != nil {
				h(r, now)
				return
			}
			for _, hd := range r.Headers {
				if hd.Key == codecs.HeaderTenantID {
					if h := s.byTenant[string(hd.Value)]; h != nil {
						h(r, now)
					}
					return
				}
			}
		})
		s.mu.Unlock()
	}
}

// send produces a record without waiting and returns the time it was handed over.
func (s *stack) send(topic string, key string, value []byte, headers []kgo.RecordHeader) time.Time {
	at := time.Now()
	s.prod.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: headers}, nil)
	return at
}

func tenantHeaders(t codecs.Tenant) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for k, v := range t.Headers() {
		out = append(out, kgo.RecordHeader{Key: k, Value: v})
	}
	return out
}

// writeAccounts creates the table topic and writes n accounts of tenant t to it, ids 1 to n,
// each as account(id) gives it, logging progress (logf may be nil). It returns the first
// error a record got.
func (s *stack) writeAccounts(table string, t codecs.Tenant, n int, account func(id uint32) *accountpb.Account, logf func(string, ...any)) error {
	if _, err := s.opts.EnsureTopics(s.opts.Tables(goka.Table(table))); err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		first error // errors of several types may come: no atomic.Value
	)
	for id := uint32(1); id <= uint32(n); id++ {
		v, err := proto.Marshal(account(id))
		if err != nil {
			return err
		}
		s.prod.Produce(context.Background(), &kgo.Record{Topic: table, Key: []byte(model.AccountKey(t, id)), Value: v},
			func(_ *kgo.Record, err error) {
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			})
		if logf != nil && id%100000 == 0 {
			logf("   %d of %d accounts written", id, n)
		}
	}
	if err := s.prod.Flush(context.Background()); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return fmt.Errorf("writing %s: %w", table, first)
	}
	return nil
}

// recordsWritten is how many records the product's topics hold now (the sum of the end
// offsets of their partitions): the difference over a phase is what that phase made the
// broker store. The bench's own topics, and anything else on a shared cluster, are left out.
func (s *stack) recordsWritten(ctx context.Context) (int64, error) {
	var total int64
	for _, spec := range account.Topics(s.opts) {
		ends, err := topicread.EndOffsets(ctx, s.prod, spec.Name, 10*time.Second)
		if err != nil {
			return 0, err
		}
		for _, e := range ends {
			total += e
		}
	}
	return total, nil
}
