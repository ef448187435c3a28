package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/chaos/refmodel"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seenEvent is one event read back, grouped under the trace of the command that caused it:
// the driver gives every command a trace of its own, and the service carries it onto the
// events, so each event can be matched to exactly one command.
type seenEvent struct {
	topic  string
	json   string
	tenant string
}

// collector reads the event and dead-letter topics with a plain client.
type collector struct {
	cl      *kgo.Client
	mu      sync.Mutex
	changed chan struct{}
	byTrace map[string][]seenEvent
	next    map[string]map[int32]int64 // offset after the last record read, per partition
	dlq     map[string]string          // trace id of a refused command -> reason
	stop    context.CancelFunc
	done    chan struct{}
}

func newCollector(brokers []string) (*collector, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus), string(atlas.DeadLetterTopic)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(20*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cl: cl, changed: make(chan struct{}), byTrace: map[string][]seenEvent{}, next: map[string]map[int32]int64{}, dlq: map[string]string{}, stop: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *collector) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		c.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if c.next[r.Topic] == nil {
				c.next[r.Topic] = map[int32]int64{}
			}
			c.next[r.Topic][r.Partition] = r.Offset + 1
			h := map[string][]byte{}
			for _, x := range r.Headers {
				h[x.Key] = x.Value
			}
			tr, err := codecs.ParseTraceParent(string(h[codecs.HeaderTraceParent]))
			if err != nil {
				return
			}
			if r.Topic == string(atlas.DeadLetterTopic) {
				c.dlq[tr.TraceIDString()] = string(h[codecs.HeaderDLQReason])
				return
			}
			c.byTrace[tr.TraceIDString()] = append(c.byTrace[tr.TraceIDString()],
				seenEvent{topic: r.Topic, json: string(r.Value), tenant: string(h[codecs.HeaderTenantID])})
		})
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *collector) close() { c.stop(); <-c.done; c.cl.Close() }

// wait blocks until cond holds over the collected state or the timeout passes.
func (c *collector) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		ok := cond()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// command is one command the driver sent, with what the model expects of it.
type command struct {
	trace    string
	tenant   string
	expected []refmodel.Event
}

// player is one player's account the driver walks through its life.
type player struct {
	tenant codecs.Tenant
	mt     refmodel.Tenant
	name   string
	id     uint32
}

// driver sends scripted commands for many accounts at once, each account one step at a time
// (its next command only once the previous one's events arrived), and keeps the reference
// model in step, so the model's events are exactly the ones the service must emit.
type driver struct {
	prod  *kgo.Client
	col   *collector
	mu    sync.Mutex
	model *refmodel.Model
	sent  []*command
	steps int
	stuck int
}

func newDriver(brokers []string, col *collector) (*driver, error) {
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		return nil, err
	}
	rules := refmodel.DefaultRules()
	rules.TransitionTimeoutMs = int64(time.Hour / time.Millisecond)
	return &driver{prod: prod, col: col, model: refmodel.New(rules)}, nil
}

func (d *driver) close() { d.prod.Close() }

// send produces a command with a fresh trace and returns its trace id.
func (d *driver) send(topic goka.Stream, tenant codecs.Tenant, key uint32, value []byte) (string, error) {
	tr := codecs.NewTrace()
	rec := &kgo.Record{Topic: string(topic), Key: []byte(codecs.IDKey(key)), Value: value}
	for k, v := range tenant.Headers() {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: codecs.HeaderTraceParent, Value: []byte(tr.ParentString())})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return tr.TraceIDString(), d.prod.ProduceSync(ctx, rec).FirstErr()
}

// produce writes a record and waits for the broker's acknowledgement.
func (d *driver) produce(rec *kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return d.prod.ProduceSync(ctx, rec).FirstErr()
}

// await waits until the events of a command include every expected one.
func (d *driver) await(c *command, timeout time.Duration) bool {
	return d.col.wait(timeout, func() bool { return covers(d.col.byTrace[c.trace], c.expected) })
}

func covers(seen []seenEvent, want []refmodel.Event) bool {
	for _, w := range want {
		found := false
		for _, s := range seen {
			if s.topic == w.Topic && s.json == w.JSON {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// step sends one command built by build (which also applies it to the model and returns the
// model's events) and waits for its events.
func (d *driver) step(topic goka.Stream, a *player, key uint32, v any, apply func(nowMs int64) []refmodel.Event, timeout time.Duration) (*command, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	trace, err := d.send(topic, a.tenant, key, b)
	if err != nil {
		return nil, err
	}
	c := &command{trace: trace, tenant: a.tenant.ID.String(), expected: apply(time.Now().UnixMilli())} // apply locks d.mu itself
	d.mu.Lock()
	d.sent = append(d.sent, c)
	d.steps++
	d.mu.Unlock()
	if !d.await(c, timeout) {
		d.mu.Lock()
		d.stuck++
		d.mu.Unlock()
		return c, fmt.Errorf("%s %d (%s): events missing after %s", a.name, a.id, topic, timeout)
	}
	return c, nil
}

// life walks one account: create, then rounds of login, transition, channel login, channel
// change and logout, pausing think between steps.
func (d *driver) life(a *player, rounds int, think func(), timeout time.Duration) error {
	c, err := d.step(atlas.CommandTopicCreateAccount, a, 0, &codecs.CreateAccountCommand{Name: a.name, Password: "pw-" + a.name},
		func(int64) []refmodel.Event { return nil }, timeout)
	if err != nil {
		return err
	}
	// The id is the one the service announced; the model takes it from there.
	if !d.col.wait(timeout, func() bool { return len(d.col.byTrace[c.trace]) > 0 }) {
		return fmt.Errorf("%s: no CREATED", a.name)
	}
	d.col.mu.Lock()
	var created codecs.AccountStatusEvent
	_ = json.Unmarshal([]byte(d.col.byTrace[c.trace][0].json), &created)
	d.col.mu.Unlock()
	a.id = created.AccountID
	d.mu.Lock()
	c.expected = d.model.Create(a.mt, a.name, "pw-"+a.name, a.id, 0)
	d.mu.Unlock()

	progress := func(sid uuid.UUID, author string, state int, params string) error {
		think()
		_, err := d.step(atlas.CommandTopicAccountSession, a, a.id, &codecs.AccountSessionCommand{SessionID: sid, AccountID: a.id, Author: author,
			Type: codecs.AccountSessionCommandTypeProgressState, Body: &codecs.AccountSessionCommandProgressStateBody{State: uint8(state), Params: json.RawMessage(params)}},
			func(now int64) []refmodel.Event {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.model.Progress(a.mt, sid.String(), a.id, author, state, params, now)
			}, timeout)
		return err
	}
	for r := 0; r < rounds; r++ {
		login, ch1, ch2 := uuid.New(), uuid.New(), uuid.New()
		think()
		if _, err := d.step(atlas.CommandTopicAccountSession, a, 0, &codecs.AccountSessionCommand{SessionID: login, Author: "LOGIN",
			Type: codecs.AccountSessionCommandTypeCreate, Body: &codecs.AccountSessionCommandCreateBody{AccountName: a.name, Password: "pw-" + a.name, IPAddress: "10.9.8.7"}},
			func(now int64) []refmodel.Event {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.model.Login(a.mt, login.String(), a.name, "pw-"+a.name, "10.9.8.7", 0, now)
			}, timeout); err != nil {
			return err
		}
		for _, p := range []struct {
			sid    uuid.UUID
			author string
			state  int
			params string
		}{
			{login, "LOGIN", 2, `{"ipAddress":"10.0.0.1","port":7575,"characterId":1}`},
			{ch1, "CHANNEL", 1, `{"characterId":1}`},
			{ch1, "CHANNEL", 2, `{"ipAddress":"10.0.0.2","port":7576}`},
			{ch2, "CHANNEL", 1, `{"characterId":1}`},
		} {
			if err := progress(p.sid, p.author, p.state, p.params); err != nil {
				return err
			}
		}
		think()
		if _, err := d.step(atlas.CommandTopicAccountSession, a, a.id, &codecs.AccountSessionCommand{SessionID: ch2, AccountID: a.id, Author: "CHANNEL",
			Type: codecs.AccountSessionCommandTypeLogout, Body: &codecs.AccountSessionCommandLogoutBody{}},
			func(now int64) []refmodel.Event {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.model.Logout(a.mt, ch2.String(), a.id, "CHANNEL", now)
			}, timeout); err != nil {
			return err
		}
	}
	return nil
}

// thinker pauses a random 50-250 ms, so that a scenario's load lasts long enough for its
// faults to land in the middle of it.
func thinker(seed int64) func() {
	rng := rand.New(rand.NewSource(seed))
	var mu sync.Mutex
	return func() {
		mu.Lock()
		d := time.Duration(50+rng.Intn(200)) * time.Millisecond
		mu.Unlock()
		time.Sleep(d) // pacing the load, not waiting for a result
	}
}
