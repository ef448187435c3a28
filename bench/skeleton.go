package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics and group of the skeleton baseline, named by stack.name.
const (
	skelIn     = "bench-skeleton-in"
	skelMid    = "bench-skeleton-mid"
	skelOut    = "bench-skeleton-out"    // as EventTopicAccountSessionStatus
	skelStatus = "bench-skeleton-status" // as EventTopicAccountStatus
	skelGroupA = "bench-skeleton-ingress"
	skelGroupB = "bench-skeleton-accounts"
)

// skelTable is the skeleton's group table, on the embedded broker or in this run's names.
func (s *stack) skelTable() string { return string(goka.GroupTable(goka.Group(s.name(skelGroupB)))) }

// skeleton is the session pipeline's topology without the product's code: two chained Goka
// processors that write, per command, the records the account service wrote for the
// commands of the warm-up round (copies of their values and headers). The first re-keys the
// command to its account's internal key, as ingress does, and forwards a copy of an internal
// record; the second reads and writes the account's table row and emits a STATE_CHANGED for
// every command and, for a command at an odd offset, a LOGGED_IN too, as a channel change and
// a channel login alternate in the load. Keys are the accounts' own, so records spread over
// partitions as the pipeline's do. Its rate is what the libraries and the broker allow for
// those records; the gap from it to the pipeline's rate is the product's own code. (The
// timers stage's 0.01 records per command are left out.)
type skeleton struct {
	s      *stack
	cancel context.CancelFunc
	runs   []interface{ Done() <-chan struct{} }
	// Copies of what the pipeline wrote: internal records (AccountCommands), table rows,
	// STATE_CHANGED events (EventTopicAccountSessionStatus) and LOGGED_IN events
	// (EventTopicAccountStatus), with the events' headers.
	mid, rows, changed, loggedIn  []*kgo.Record
	changedHeaders, loggedHeaders []goka.Headers
	// internalKey and publicKey map a player's public key (its id) to its internal account
	// key and back.
	internalKey, publicKey map[string]string

	processed atomic.Int64 // commands through the second stage
	emitted   atomic.Int64 // events the second stage emitted

	want atomic.Int64 // commands of the measurement

	mu   sync.Mutex
	got  int64
	last time.Time
	done chan struct{}
}

// sampleRecords copies the last records of topic, about n over all partitions, that keep
// returns true for (tombstones are skipped).
func sampleRecords(ctx context.Context, s *stack, topic string, n int, keep func(*kgo.Record) bool) ([]*kgo.Record, error) {
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
		if len(r.Value) > 0 && (keep == nil || keep(r)) {
			out = append(out, r)
		}
		return true
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no records in %s to copy", topic)
	}
	return out, err
}

// gokaHeaders are the records' headers as Goka emits them.
func gokaHeaders(rs []*kgo.Record) []goka.Headers {
	out := make([]goka.Headers, len(rs))
	for i, r := range rs {
		out[i] = topicread.HeaderMap(r.Headers)
	}
	return out
}

// startSkeleton copies the pipeline's records of its last burst and starts the two stages;
// keys are the public keys (account ids) the skeleton will be sent.
func startSkeleton(s *stack, keys []string) (*skeleton, error) {
	k := &skeleton{s: s, internalKey: map[string]string{}, publicKey: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 4 * len(keys)
	var err error
	if k.mid, err = sampleRecords(ctx, s, string(atlas.AccountCommands), n, nil); err != nil {
		return nil, err
	}
	if k.rows, err = sampleRecords(ctx, s, string(goka.GroupTable(atlas.AccountsGroup)), n, nil); err != nil {
		return nil, err
	}
	if k.changed, err = sampleRecords(ctx, s, string(atlas.EventTopicAccountSessionStatus), n, nil); err != nil {
		return nil, err
	}
	if k.loggedIn, err = sampleRecords(ctx, s, string(atlas.EventTopicAccountStatus), n, func(r *kgo.Record) bool {
		e, err := codecs.DecodeAccountStatusEvent(r.Value)
		return err == nil && e.Status == codecs.AccountStatusEventStatusLoggedIn
	}); err != nil {
		return nil, err
	}
	k.changedHeaders, k.loggedHeaders = gokaHeaders(k.changed), gokaHeaders(k.loggedIn)
	// The players' internal keys are in the tenant of the pipeline's internal records.
	tenant := model.TenantKeyOf(string(k.mid[0].Key))
	for _, key := range keys {
		if len(key) != codecs.KeyLen {
			return nil, fmt.Errorf("skeleton: key %q is not an account id", key)
		}
		ik := model.AccountKeyFor(tenant, binary.LittleEndian.Uint32([]byte(key)))
		k.internalKey[key], k.publicKey[ik] = ik, key
	}
	in, mid := goka.Stream(s.name(skelIn)), goka.Stream(s.name(skelMid))
	out, status := goka.Stream(s.name(skelOut)), goka.Stream(s.name(skelStatus))
	a := goka.DefineGroup(goka.Group(s.name(skelGroupA)),
		goka.Input(in, new(codec.Bytes), func(ctx goka.Context, _ interface{}) {
			r := k.mid[int(ctx.Offset())%len(k.mid)]
			ctx.Emit(mid, k.internalKey[ctx.Key()], r.Value) // internal records carry no headers
		}),
		goka.Output(mid, new(codec.Bytes)),
	)
	b := goka.DefineGroup(goka.Group(s.name(skelGroupB)),
		goka.Input(mid, new(codec.Bytes), func(ctx goka.Context, _ interface{}) {
			_ = ctx.Value()
			i := int(ctx.Offset())
			ctx.SetValue(k.rows[i%len(k.rows)].Value)
			key, login := k.publicKey[ctx.Key()], i%2 == 1
			if login {
				k.emitted.Add(2)
			} else {
				k.emitted.Add(1)
			}
			j := i % len(k.changed)
			ctx.Emit(out, key, k.changed[j].Value, goka.WithCtxEmitHeaders(k.changedHeaders[j]))
			if login {
				j := i % len(k.loggedIn)
				ctx.Emit(status, key, k.loggedIn[j].Value, goka.WithCtxEmitHeaders(k.loggedHeaders[j]))
			}
			if k.processed.Add(1) == k.want.Load() {
				k.check(time.Now())
			}
		}),
		goka.Persist(new(codec.Bytes)),
		goka.Output(out, new(codec.Bytes)),
		goka.Output(status, new(codec.Bytes)),
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
	count := func(_ *kgo.Record, now time.Time) {
		k.mu.Lock()
		k.got++
		k.mu.Unlock()
		k.check(now)
	}
	s.onTopic(string(out), count)
	s.onTopic(string(status), count)
	return k, nil
}

// check ends a measurement once every command went through the second stage and every event
// it emitted came out: the count of events is known only then.
func (k *skeleton) check(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done == nil || k.processed.Load() < k.want.Load() {
		return
	}
	if k.got >= k.emitted.Load() {
		k.last = now
		close(k.done)
		k.done = nil
	}
}

// measure sends total messages (keys and msgs in turn, keys among startSkeleton's) and
// returns commands per second, from the first send to the last event out, and how many
// events had come out then.
func (k *skeleton) measure(keys []string, msgs [][]byte, total int, headers []kgo.RecordHeader) (float64, int64, error) {
	k.mu.Lock()
	k.processed.Store(0)
	k.emitted.Store(0)
	k.want.Store(int64(total))
	k.got, k.done = 0, make(chan struct{})
	done := k.done
	k.mu.Unlock()
	start := time.Now()
	for i := 0; i < total; i++ {
		k.s.send(k.s.name(skelIn), keys[i%len(keys)], msgs[i%len(msgs)], headers)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, 0, fmt.Errorf("skeleton: %d of %d commands through within 2 minutes", k.processed.Load(), total)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return float64(total) / k.last.Sub(start).Seconds(), k.got, nil
}

func (k *skeleton) close() {
	k.s.onTopic(k.s.name(skelOut), nil)
	k.s.onTopic(k.s.name(skelStatus), nil)
	k.cancel()
	for _, r := range k.runs {
		<-r.Done()
	}
}
