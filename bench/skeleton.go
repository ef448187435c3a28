package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics and group of the skeleton baseline, named by stack.name.
const (
	skelIn     = "bench-skeleton-in"
	skelMid    = "bench-skeleton-mid"
	skelOut    = "bench-skeleton-out"
	skelGroupA = "bench-skeleton-ingress"
	skelGroupB = "bench-skeleton-accounts"
)

// skelTable is the skeleton's group table, on the embedded broker or in this run's names.
func (s *stack) skelTable() string { return string(goka.GroupTable(goka.Group(s.name(skelGroupB)))) }

// skeleton is the session pipeline's topology without the product's code: two chained Goka
// processors that write, per command, the records the account service wrote for the
// commands of the warm-up round (copies of them: the same keys, sizes and headers). The
// first re-keys the command into an internal record, the second reads and writes a table row
// and emits one event for a command at an even offset and two at an odd one, as a channel
// change (STATE_CHANGED) and a channel login (STATE_CHANGED, LOGGED_IN) alternate. Its rate
// is what the libraries and the broker allow for those records; the gap from it to the
// pipeline's rate is the product's own code.
type skeleton struct {
	s       *stack
	cancel  context.CancelFunc
	runs    []interface{ Done() <-chan struct{} }
	mid     []*kgo.Record // the internal records (AccountCommands) to forward
	rows    []*kgo.Record // table rows (the accounts table) to write
	events  []*kgo.Record // events (EventTopicAccountSessionStatus) to emit, with their headers
	headers []goka.Headers

	processed atomic.Int64 // commands through the second stage
	emitted   atomic.Int64 // events the second stage emitted

	mu   sync.Mutex
	got  int64
	want int64
	last time.Time
	done chan struct{}
}

// sampleRecords copies the last records of topic, about n over all partitions.
func sampleRecords(ctx context.Context, s *stack, topic string, n int) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(append(s.opts.KafkaClientOpts(), topicread.ReaderOpts()...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := topicread.EndOffsets(ctx, cl, topic, 10*time.Second)
	if err != nil {
		return nil, err
	}
	per := int64(n/len(ends) + 1)
	from := map[int32]int64{}
	for p, e := range ends {
		from[p] = max(0, e-per)
	}
	var out []*kgo.Record
	err = topicread.Read(ctx, cl, topic, from, ends, func(r *kgo.Record) bool {
		if len(r.Value) > 0 {
			out = append(out, r)
		}
		return true
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no records in %s to copy", topic)
	}
	return out, err
}

// startSkeleton copies the pipeline's records of its last burst and starts the two stages.
func startSkeleton(s *stack) (*skeleton, error) {
	k := &skeleton{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if k.mid, err = sampleRecords(ctx, s, string(atlas.AccountCommands), 2000); err != nil {
		return nil, err
	}
	if k.rows, err = sampleRecords(ctx, s, string(goka.GroupTable(atlas.AccountsGroup)), 2000); err != nil {
		return nil, err
	}
	if k.events, err = sampleRecords(ctx, s, string(atlas.EventTopicAccountSessionStatus), 3000); err != nil {
		return nil, err
	}
	for _, e := range k.events {
		h := goka.Headers{}
		for _, hd := range e.Headers {
			h[hd.Key] = hd.Value
		}
		k.headers = append(k.headers, h)
	}
	in, mid, out := goka.Stream(s.name(skelIn)), goka.Stream(s.name(skelMid)), goka.Stream(s.name(skelOut))
	a := goka.DefineGroup(goka.Group(s.name(skelGroupA)),
		goka.Input(in, new(codec.Bytes), func(ctx goka.Context, _ interface{}) {
			r := k.mid[int(ctx.Offset())%len(k.mid)]
			ctx.Emit(mid, string(r.Key), r.Value) // internal records carry no headers
		}),
		goka.Output(mid, new(codec.Bytes)),
	)
	b := goka.DefineGroup(goka.Group(s.name(skelGroupB)),
		goka.Input(mid, new(codec.Bytes), func(ctx goka.Context, _ interface{}) {
			_ = ctx.Value()
			ctx.SetValue(k.rows[int(ctx.Offset())%len(k.rows)].Value)
			n := 1 + int(ctx.Offset()&1)
			k.emitted.Add(int64(n))
			for i := 0; i < n; i++ {
				j := (int(ctx.Offset())*2 + i) % len(k.events)
				e := k.events[j]
				ctx.Emit(out, string(e.Key), e.Value, goka.WithCtxEmitHeaders(k.headers[j]))
			}
			k.processed.Add(1)
			k.check(time.Now())
		}),
		goka.Persist(new(codec.Bytes)),
		goka.Output(out, new(codec.Bytes)),
	)
	runCtx, stop := context.WithCancel(context.Background())
	k.cancel = stop
	deadline := time.Now().Add(2 * time.Minute)
	for _, gg := range []*goka.GroupGraph{a, b} {
		r := s.opts.StartProcessor(runCtx, gg, sarama.OffsetOldest)
		k.runs = append(k.runs, r)
		for !r.Ready() {
			if time.Now().After(deadline) {
				k.close()
				return nil, fmt.Errorf("skeleton processor %s not ready after 2 minutes", gg.Group())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	s.onTopic(string(out), func(_ *kgo.Record, now time.Time) {
		k.mu.Lock()
		k.got++
		k.mu.Unlock()
		k.check(now)
	})
	return k, nil
}

// check ends a measurement once every command went through the second stage and every event
// it emitted came out: the count of events is known only then.
func (k *skeleton) check(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done == nil || k.processed.Load() < k.want {
		return
	}
	if k.got >= k.emitted.Load() {
		k.last = now
		close(k.done)
		k.done = nil
	}
}

// measure sends total messages (the pass-through's: keys and msgs in turn) and returns
// commands per second, from the first send to the last event out.
func (k *skeleton) measure(keys []string, msgs [][]byte, total int, headers []kgo.RecordHeader) (float64, error) {
	k.mu.Lock()
	k.processed.Store(0)
	k.emitted.Store(0)
	k.got, k.want, k.done = 0, int64(total), make(chan struct{})
	done := k.done
	k.mu.Unlock()
	start := time.Now()
	for i := 0; i < total; i++ {
		k.s.send(k.s.name(skelIn), keys[i%len(keys)], msgs[i%len(msgs)], headers)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("skeleton: %d of %d commands through within 2 minutes", k.processed.Load(), total)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return float64(total) / k.last.Sub(start).Seconds(), nil
}

func (k *skeleton) close() {
	k.s.onTopic(k.s.name(skelOut), nil)
	k.cancel()
	for _, r := range k.runs {
		<-r.Done()
	}
}
