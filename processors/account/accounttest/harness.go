// Package accounttest runs the whole account service inside Goka's tester, so tests drive it
// through its public topics exactly as producers and consumers would.
package accounttest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/ingress"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/account/timers"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"

	accountsvc "github.com/atlasstreams/atlas/processors/account"
)

// Event is a public event read back from one of the two event topics, decoded.
type Event struct {
	Topic   goka.Stream
	Key     string
	Headers goka.Headers
	Raw     []byte
	Status  *codecs.AccountStatusEvent
	Session *codecs.AccountSessionStatusEvent
}

// String renders an event compactly for assertions: "STATUS 7 CREATED bob",
// "SESSION 7 ERROR INCORRECT_PASSWORD", "SESSION 7 STATE_CHANGED 2".
func (e Event) String() string {
	if e.Status != nil {
		return fmt.Sprintf("STATUS %d %s %s", e.Status.AccountID, e.Status.Status, e.Status.Name)
	}
	s := e.Session
	switch b := s.Body.(type) {
	case *codecs.AccountSessionStatusEventErrorBody:
		return fmt.Sprintf("SESSION %d ERROR %s", s.AccountID, b.Code)
	case *codecs.AccountSessionStatusEventStateChangedBody:
		return fmt.Sprintf("SESSION %d STATE_CHANGED %d", s.AccountID, b.State)
	}
	return fmt.Sprintf("SESSION %d %s", s.AccountID, s.Type)
}

// Harness is the account service in a Goka tester with a controllable clock.
type Harness struct {
	T      testing.TB
	TT     *tester.Tester
	Config model.Config
	// Passwords are the service's (the sealer's key is random per harness).
	Passwords model.Passwords
	Now       time.Time
	Tenant    codecs.Tenant
	status    *tester.QueueTracker
	session   *tester.QueueTracker
	dlq       *tester.QueueTracker
	// lastTick is the last timer slot Tick visited.
	lastTick int64
}

// DefaultTenant is a GMS v83 tenant.
var DefaultTenant = codecs.Tenant{ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Region: "GMS", Major: 83, Minor: 1}

// New starts the five groups in a tester. cfg's bcrypt cost is lowered to the minimum unless
// the caller set it, so tests stay fast.
func New(t testing.TB, mutate ...func(*model.Config)) *Harness {
	return NewWithRecordLimit(t, 0, mutate...)
}

// NewWithRecordLimit is New with the groups writing under a record size limit of limit bytes
// (0: recordsize.Default), as if the cluster allowed no more.
func NewWithRecordLimit(t testing.TB, limit int, mutate ...func(*model.Config)) *Harness {
	cfg := model.DefaultConfig()
	cfg.BcryptCost = bcrypt.MinCost
	for _, m := range mutate {
		m(&cfg)
	}
	// The timers stage's wall clock is the harness clock.
	var h *Harness
	cfg.Clock = func() time.Time { return h.Now }
	s, err := seal.New(seal.RandomKey())
	require.NoError(t, err)
	svc := accountsvc.Service{Config: cfg, Passwords: model.Passwords{Cost: cfg.BcryptCost, Sealer: s}}

	tt := tester.New(t)
	ctx, cancel := context.WithCancel(recordsize.WithLimit(context.Background(), limit))
	var wg sync.WaitGroup
	for _, gg := range svc.Graphs() {
		p, err := goka.NewProcessor(nil, gg, goka.WithTester(tt))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("processor %s: %v", gg.Group(), err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	h = &Harness{
		T: t, TT: tt, Config: cfg, Passwords: svc.Passwords, Tenant: DefaultTenant,
		Now:     time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		status:  tt.NewQueueTracker(string(atlas.EventTopicAccountStatus)),
		session: tt.NewQueueTracker(string(atlas.EventTopicAccountSessionStatus)),
		dlq:     tt.NewQueueTracker(string(atlas.DeadLetterTopic)),
	}
	h.lastTick = h.Now.UnixMilli()/cfg.TickInterval.Milliseconds() - 1
	return h
}

// Advance moves the clock.
func (h *Harness) Advance(d time.Duration) { h.Now = h.Now.Add(d) }

// Produce writes a raw record to a topic with the harness tenant's headers plus extra.
func (h *Harness) Produce(topic goka.Stream, key string, value []byte, headers goka.Headers) {
	hdr := h.Tenant.Headers()
	for k, v := range headers {
		if v == nil {
			delete(hdr, k)
			continue
		}
		hdr[k] = v
	}
	h.TT.Consume(string(topic), key, value, tester.WithHeaders(hdr), tester.WithTime(h.Now))
}

func (h *Harness) produceJSON(topic goka.Stream, key string, v any) {
	b, err := json.Marshal(v)
	require.NoError(h.T, err)
	h.Produce(topic, key, b, nil)
}

// Create sends a CreateCommand.
func (h *Harness) Create(name, password string) {
	h.produceJSON(atlas.CommandTopicCreateAccount, codecs.IDKey(uint32(h.Now.UnixNano())), &codecs.CreateAccountCommand{Name: name, Password: password})
}

// Login sends a SessionCommand CREATE (author LOGIN, accountId 0, as the login server does).
func (h *Harness) Login(sid uuid.UUID, name, password string) {
	h.produceJSON(atlas.CommandTopicAccountSession, codecs.IDKey(0), &codecs.AccountSessionCommand{
		SessionID: sid, AccountID: 0, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeCreate,
		Body: &codecs.AccountSessionCommandCreateBody{AccountName: name, Password: password, IPAddress: "10.0.0.7"},
	})
}

// Progress sends a SessionCommand PROGRESS_STATE.
func (h *Harness) Progress(sid uuid.UUID, accountID uint32, author string, state uint8, params string) {
	var p json.RawMessage
	if params != "" {
		p = json.RawMessage(params)
	}
	h.produceJSON(atlas.CommandTopicAccountSession, codecs.IDKey(accountID), &codecs.AccountSessionCommand{
		SessionID: sid, AccountID: accountID, Author: author, Type: codecs.AccountSessionCommandTypeProgressState,
		Body: &codecs.AccountSessionCommandProgressStateBody{State: state, Params: p},
	})
}

// Logout sends a SessionCommand LOGOUT.
func (h *Harness) Logout(sid uuid.UUID, accountID uint32, author string) {
	h.produceJSON(atlas.CommandTopicAccountSession, codecs.IDKey(accountID), &codecs.AccountSessionCommand{
		SessionID: sid, AccountID: accountID, Author: author, Type: codecs.AccountSessionCommandTypeLogout,
		Body: &codecs.AccountSessionCommandLogoutBody{},
	})
}

// Admin sends an operator command.
func (h *Harness) Admin(typ string, accountID uint32, body any) {
	b, err := json.Marshal(body)
	require.NoError(h.T, err)
	h.produceJSON(atlas.AccountAdminTopic, codecs.IDKey(accountID), &ingress.AdminCommand{Type: typ, AccountID: accountID, Body: b})
}

// Tick sends, as the ticker does, a tick to every row of every slot that ended since the last
// Tick (or the harness's start), timestamped with the current time.
func (h *Harness) Tick() {
	slotMs := h.Config.TickInterval.Milliseconds()
	now := h.Now.UnixMilli() / slotMs
	for s := h.lastTick + 1; s <= now; s++ {
		for shard := 0; shard < h.Config.TimerShards; shard++ {
			h.TT.Consume(string(atlas.AccountTimerCommands), model.TimerRowKey(s, shard), timers.TickCommand(), tester.WithTime(h.Now))
		}
	}
	h.lastTick = now
}

// Events drains both event topics, the account status topic first.
func (h *Harness) Events() []Event {
	var out []Event
	for _, q := range []struct {
		topic goka.Stream
		tr    *tester.QueueTracker
	}{{atlas.EventTopicAccountStatus, h.status}, {atlas.EventTopicAccountSessionStatus, h.session}} {
		for {
			hdr, key, v, ok := q.tr.NextWithHeaders()
			if !ok {
				break
			}
			raw, _ := v.([]byte)
			e := Event{Topic: q.topic, Key: key, Headers: hdr, Raw: raw}
			var err error
			if q.topic == atlas.EventTopicAccountStatus {
				e.Status, err = codecs.DecodeAccountStatusEvent(raw)
			} else {
				e.Session, err = codecs.DecodeAccountSessionStatusEvent(raw)
			}
			require.NoError(h.T, err, "event %s is not catalog JSON: %s", q.topic, raw)
			out = append(out, e)
		}
	}
	return out
}

// EventStrings drains the events and renders them with Event.String.
func (h *Harness) EventStrings() []string {
	var out []string
	for _, e := range h.Events() {
		out = append(out, e.String())
	}
	return out
}

// DeadLetters drains the dead-letter topic.
func (h *Harness) DeadLetters() []codecs.DeadLetter {
	var out []codecs.DeadLetter
	for _, r := range h.DeadLetterRecords() {
		d, err := codecs.DeadLetterFromHeaders(r.Headers)
		require.NoError(h.T, err)
		out = append(out, d)
	}
	return out
}

// DeadLetterRecord is a record of the dead-letter topic as written.
type DeadLetterRecord struct {
	Key     string
	Value   []byte
	Headers goka.Headers
}

// DeadLetterRecords drains the dead-letter topic, records as written.
func (h *Harness) DeadLetterRecords() []DeadLetterRecord {
	var out []DeadLetterRecord
	for {
		hdr, key, v, ok := h.dlq.NextWithHeaders()
		if !ok {
			return out
		}
		raw, _ := v.([]byte)
		out = append(out, DeadLetterRecord{Key: key, Value: raw, Headers: hdr})
	}
}

// Account returns the stored account with id in the harness tenant (nil if none).
func (h *Harness) Account(id uint32) *accountpb.Account {
	v := h.TT.TableValue(atlas.AccountsTable, model.AccountKey(h.Tenant, id))
	a, _ := v.(*accountpb.Account)
	return a
}

// Name returns the stored names entry of name in the harness tenant (nil if none).
func (h *Harness) Name(name string) *accountpb.NameEntry {
	v := h.TT.TableValue(atlas.AccountNamesTable, model.NameKey(h.Tenant, name))
	e, _ := v.(*accountpb.NameEntry)
	return e
}

// Meta is the metadata ingress would give a public command read at topic/partition/offset now.
func (h *Harness) Meta(topic goka.Stream, partition int32, offset int64) *accountpb.Meta {
	return &accountpb.Meta{
		Command:     &accountpb.CommandID{Topic: string(topic), Partition: partition, Offset: offset},
		Tenant:      h.Tenant.String(),
		Traceparent: codecs.NewTrace().ParentString(),
		TimestampMs: h.Now.UnixMilli(),
	}
}

// ProduceInternal writes an internal command straight to a stage's input, as a stage that
// re-emitted it after a crash would.
func (h *Harness) ProduceInternal(topic goka.Stream, key string, m proto.Message) {
	b, err := proto.Marshal(m)
	require.NoError(h.T, err)
	h.TT.Consume(string(topic), key, b)
}

// State is the account's session state (0 when it does not exist).
func (h *Harness) State(id uint32) uint32 { return model.State(h.Account(id)) }

// SkipTicks passes the slots until now without ticking them: their wake-ups are lost, as if
// the timers stage had dropped them.
func (h *Harness) SkipTicks() {
	h.lastTick = h.Now.UnixMilli() / h.Config.TickInterval.Milliseconds()
}

// ProgressAt sends PROGRESS_STATE stamped at, while the clock (and so the timers stage's
// wall clock) stays at Now: a command that reached Kafka late, or from a producer whose clock
// runs behind.
func (h *Harness) ProgressAt(at time.Time, sid uuid.UUID, accountID uint32, author string, state uint8, params string) {
	b, err := json.Marshal(&codecs.AccountSessionCommand{
		SessionID: sid, AccountID: accountID, Author: author, Type: codecs.AccountSessionCommandTypeProgressState,
		Body: &codecs.AccountSessionCommandProgressStateBody{State: state, Params: json.RawMessage(params)},
	})
	require.NoError(h.T, err)
	h.TT.Consume(string(atlas.CommandTopicAccountSession), codecs.IDKey(accountID), b,
		tester.WithHeaders(h.Tenant.Headers()), tester.WithTime(at))
}
