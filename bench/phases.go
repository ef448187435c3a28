package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/crypto/bcrypt"
)

// Topics of the pass-through baseline (same partitions as the service's topics), named by
// stack.name.
const (
	passIn  = "bench-passthrough-in"
	passOut = "bench-passthrough-out"
)

// Tables of the API and recovery figures, named by stack.name like the streams above.
const (
	apiTable      = "bench-api-table"
	recoveryTable = "bench-recovery-table"
)

// passThrough is the trivial Goka processor every figure of the session pipeline is compared
// with: read a message, emit it unchanged. It stays up across the rounds of figure 1, and each
// round sends it the same messages (sizes, keys, headers) the session load sends.
type passThrough struct {
	s      *stack
	msgs   [][]byte
	keys   []string
	cancel context.CancelFunc
	run    interface{ Done() <-chan struct{} }

	mu   sync.Mutex
	got  int
	want int
	last time.Time
	done chan struct{}
}

func startPassThrough(s *stack, l *sessionLoad) (*passThrough, error) {
	gg := goka.DefineGroup(goka.Group(s.name("bench-passthrough")),
		goka.Input(goka.Stream(s.name(passIn)), new(codec.Bytes), func(ctx goka.Context, msg interface{}) {
			ctx.Emit(goka.Stream(s.name(passOut)), ctx.Key(), msg)
		}),
		goka.Output(goka.Stream(s.name(passOut)), new(codec.Bytes)),
	)
	ctx, cancel := context.WithCancel(context.Background())
	r := s.opts.StartProcessor(ctx, gg, sarama.OffsetOldest)
	p := &passThrough{s: s, cancel: cancel, run: r}
	deadline := time.Now().Add(2 * time.Minute)
	for !r.Ready() {
		if time.Now().After(deadline) {
			p.close()
			return nil, fmt.Errorf("pass-through processor not ready after 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.onTopic(s.name(passOut), func(_ *kgo.Record, now time.Time) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.got++; p.got == p.want {
			p.last = now
			close(p.done)
		}
	})
	// The same bytes the session load sends: a PROGRESS_STATE command per player in turn.
	for _, pl := range l.players {
		m, _ := json.Marshal(&codecs.AccountSessionCommand{SessionID: pl.sids[0], AccountID: pl.id, Author: model.IssuerChannel,
			Type: codecs.AccountSessionCommandTypeProgressState, Body: &codecs.AccountSessionCommandProgressStateBody{
				State: 2, Params: json.RawMessage(`{"ipAddress":"127.0.0.1","port":7576}`)}})
		p.msgs, p.keys = append(p.msgs, m), append(p.keys, codecs.IDKey(pl.id))
	}
	return p, nil
}

// measure sends total messages as fast as possible and returns messages per second, from the
// first send to the last message out.
func (p *passThrough) measure(total int, headers []kgo.RecordHeader) (float64, error) {
	p.mu.Lock()
	p.got, p.want, p.done = 0, total, make(chan struct{})
	done := p.done
	p.mu.Unlock()
	start := time.Now()
	for i := 0; i < total; i++ {
		p.s.send(p.s.name(passIn), p.keys[i%len(p.keys)], p.msgs[i%len(p.msgs)], headers)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		p.mu.Lock()
		defer p.mu.Unlock()
		return 0, fmt.Errorf("pass-through: %d of %d messages within 2 minutes", p.got, total)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(total) / p.last.Sub(start).Seconds(), nil
}

func (p *passThrough) close() {
	p.s.onTopic(p.s.name(passOut), nil)
	p.cancel()
	<-p.run.Done()
}

// bcryptLimit is the most logins per second the machine can check: cores divided by the time
// of one comparison at cost, measured here and now.
func bcryptLimit(cost int) (perSecond float64, one time.Duration) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("password"), cost)
	const n = 4
	start := time.Now()
	for i := 0; i < n; i++ {
		_ = bcrypt.CompareHashAndPassword(hash, []byte("password"))
	}
	one = time.Since(start) / n
	// Cores: the bcrypt helper process uses every core that the service leaves idle.
	return float64(runtime.NumCPU()) / one.Seconds(), one
}

// loginLoad runs logins in a tenant of its own and records their latencies.
type loginLoad struct {
	s       *stack
	tenant  codecs.Tenant
	headers []kgo.RecordHeader
	mu      sync.Mutex
	sent    map[uuid.UUID]time.Time
	lat     []time.Duration
	created int
	errors  int
	last    time.Time
	want    int
	mode    string // what done waits for: "create" or "login"
	done    chan struct{}
}

func newLoginLoad(s *stack) *loginLoad {
	l := &loginLoad{s: s, tenant: newTenant("GMS"), sent: map[uuid.UUID]time.Time{}}
	l.headers = tenantHeaders(l.tenant)
	s.onTenant(l.tenant, func(r *kgo.Record, now time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if r.Topic == string(atlas.EventTopicAccountStatus) {
			if e, err := codecs.DecodeAccountStatusEvent(r.Value); err == nil && e.Status == codecs.AccountStatusEventStatusCreated {
				l.created++
				l.check()
			}
			return
		}
		e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
		if err != nil {
			return
		}
		at, ok := l.sent[e.SessionID]
		if !ok {
			return
		}
		delete(l.sent, e.SessionID)
		if e.Type == codecs.AccountSessionStatusEventTypeError {
			l.errors++
		}
		l.lat = append(l.lat, now.Sub(at))
		l.last = now
		l.check()
	})
	return l
}

// check closes done once the awaited number of creations or logins happened (locked).
func (l *loginLoad) check() {
	if l.done != nil && (l.mode == "create" && l.created == l.want || l.mode == "login" && len(l.lat) == l.want) {
		close(l.done)
		l.done = nil
	}
}

func (l *loginLoad) await(want int, what string) error {
	l.mu.Lock()
	done := make(chan struct{})
	l.want, l.done, l.mode = want, done, what
	l.check()
	l.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(3 * time.Minute):
		l.mu.Lock()
		defer l.mu.Unlock()
		return fmt.Errorf("%s: %d created, %d logins of %d within 3 minutes", what, l.created, len(l.lat), want)
	}
}

// create makes n accounts named prefix+i.
func (l *loginLoad) create(prefix string, n int) error {
	for i := 0; i < n; i++ {
		cmd, _ := json.Marshal(&codecs.CreateAccountCommand{Name: fmt.Sprintf("%s%06d", prefix, i), Password: "pw"})
		l.s.send(string(atlas.CommandTopicCreateAccount), codecs.IDKey(uint32(i)), cmd, l.headers)
	}
	l.mu.Lock()
	l.created = 0
	l.mu.Unlock()
	return l.await(n, "create")
}

// login sends n logins (keyed by account id 0, as login servers do) and returns the time from
// the first send to the last answer.
func (l *loginLoad) login(prefix string, n int) (time.Duration, error) {
	l.mu.Lock()
	l.lat, l.errors, l.mode, l.done = nil, 0, "", nil
	l.mu.Unlock()
	start := time.Now()
	for i := 0; i < n; i++ {
		sid := uuid.New()
		cmd, _ := json.Marshal(&codecs.AccountSessionCommand{SessionID: sid, Author: model.IssuerLogin,
			Type: codecs.AccountSessionCommandTypeCreate, Body: &codecs.AccountSessionCommandCreateBody{
				AccountName: fmt.Sprintf("%s%06d", prefix, i), Password: "pw", IPAddress: "127.0.0.1"}})
		l.mu.Lock()
		l.sent[sid] = l.s.send(string(atlas.CommandTopicAccountSession), codecs.IDKey(0), cmd, l.headers)
		l.mu.Unlock()
	}
	if err := l.await(n, "login"); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errors > 0 {
		return 0, fmt.Errorf("%d logins failed", l.errors)
	}
	return l.last.Sub(start), nil
}
