// Package events is the Kafka side of a channel instance: one stateless Goka processor per
// consumed event topic, all in the instance's group, each callback filtering, routing and
// delivering one event to the sessions it concerns.
//
// Why one processor per topic: a Goka processor needs its inputs co-partitioned, and the 20
// event topics have different partition counts in the wild. Each processor here has a single
// input, so its claims are trivially co-partitioned; the group uses a balance strategy that
// accepts members with different subscriptions (see ConsumerGroupBuilder), so one group
// holds all 20. Every instance has its own group and therefore reads every partition.
package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/route"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/tracing"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/sirupsen/logrus"
)

// Outcomes of one consumed message (metrics label).
const (
	outcomeOK         = "ok"
	outcomeIgnored    = "ignored"
	outcomeDeadLetter = "dead_letter"
)

// Handler handles the consumed events of one channel instance.
type Handler struct {
	Tenant   codecs.Tenant
	Scope    route.Scope
	Sessions *sessions.Manager
	Presence *Presence
}

// Topic pairs a consumed topic's stream (its name after env overrides) with its catalog entry.
type Topic struct {
	Stream  goka.Stream
	Catalog *codecs.CatalogTopic
}

// Consumed lists the topics the catalog says the channel consumes, in catalog order: those
// of both contract eras, whatever the channel writes, since services of either era may sit
// beside it (a topic of the other era only is then simply quiet).
func Consumed() []Topic {
	var out []Topic
	for _, t := range codecs.CatalogTopicList() {
		if t.ConsumedBy("channel") {
			out = append(out, Topic{Stream: atlas.TopicFromEnv(t.Name), Catalog: t})
		}
	}
	return out
}

// Graphs returns one group graph per consumed topic, all in group.
func (h *Handler) Graphs(group goka.Group) []*goka.GroupGraph {
	var out []*goka.GroupGraph
	for _, t := range Consumed() {
		t := t
		var types []string
		for _, ty := range t.Catalog.Types {
			types = append(types, ty.Value)
		}
		metrics.DeclareIn(string(group), t.Catalog.Name, types, outcomeOK, outcomeIgnored, outcomeDeadLetter)
		out = append(out, goka.DefineGroup(group,
			goka.Input(t.Stream, new(codec.Bytes), func(ctx goka.Context, msg any) {
				raw, _ := msg.([]byte)
				h.consume(ctx, t.Catalog, raw)
			}),
			goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
		))
	}
	return out
}

// ConsumerGroupBuilder builds the instance's consumer group clients with the round-robin
// balance strategy instead of Goka's co-partitioning one, which refuses a group whose topics
// differ in partition count. Each member subscribes to one topic and is its only subscriber
// in the group, so round robin gives it every partition of that topic.
func ConsumerGroupBuilder(o runtime.Options) goka.ConsumerGroupBuilder {
	return func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		cfg := o.Sarama(sarama.OffsetNewest)
		cfg.ClientID = clientID
		cfg.Consumer.Group.Rebalance.Strategy = nil // Goka sets this deprecated field; it would win
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
		return sarama.NewConsumerGroup(brokers, group, cfg)
	}
}

func (h *Handler) consume(ctx goka.Context, topic *codecs.CatalogTopic, raw []byte) {
	start := time.Now()
	step := tracing.StartRecord(ctx, string(ctx.Group()), "")
	defer step.End()
	typ, outcome := h.handle(ctx, topic, raw)
	metrics.MessagesIn.WithLabelValues(string(ctx.Group()), topic.Name, metrics.TypeLabel(typ), outcome).Inc()
	metrics.ProcessingSeconds.WithLabelValues(string(ctx.Group()), topic.Name).Observe(time.Since(start).Seconds())
}

// handle runs one event through filter, decode, state changes and delivery. It never panics
// and never fails the processor: a message it cannot use is dead-lettered and skipped.
func (h *Handler) handle(ctx goka.Context, topic *codecs.CatalogTopic, raw []byte) (typ, outcome string) {
	defer func() {
		if p := recover(); p != nil {
			deadletter.Send(ctx, raw, fmt.Errorf("channel handler panicked: %v", p))
			outcome = outcomeDeadLetter
		}
	}()
	// The tenant is in the headers: a foreign or missing tenant is dropped before any JSON
	// is read. Refusing another tenant's message is not this instance's business.
	if t, err := codecs.TenantFromHeaders(ctx.Headers()); err != nil || t != h.Tenant {
		return "", outcomeIgnored
	}
	ev, err := route.Parse(topic, raw)
	if err != nil {
		return h.refuse(ctx, raw, "", err)
	}
	eff, hasEffect := effects[topic.Name+" "+ev.Type]
	if !ev.Keep(h.Scope) || (ev.Route == route.None && !hasEffect) {
		return ev.Type, outcomeIgnored
	}
	if err := ev.ParseBody(); err != nil {
		return h.refuse(ctx, raw, ev.Type, err)
	}
	msg, err := topic.Decode(raw)
	if err != nil {
		return h.refuse(ctx, raw, ev.Type, err)
	}
	c := effectContext{h: h, ev: ev, msg: msg, trace: codecs.TraceFromHeaders(ctx.Headers())}
	if eff.before != nil {
		eff.before(c)
	}
	h.deliver(topic, ev, raw)
	if eff.after != nil {
		eff.after(c)
	}
	return ev.Type, outcomeOK
}

// refuse ignores an unknown type (the contract says so) and dead-letters anything else.
func (h *Handler) refuse(ctx goka.Context, raw []byte, typ string, err error) (string, string) {
	if errors.Is(err, codecs.ErrUnknownType) {
		return metrics.OtherType, outcomeIgnored // a type the contract does not name
	}
	deadletter.Send(ctx, raw, err)
	return typ, outcomeDeadLetter
}

// deliver pushes the event to the sessions its route names. Send never blocks, so a slow
// client cannot hold back the partition; the frames of one partition reach each session in
// the order of the partition.
func (h *Handler) deliver(topic *codecs.CatalogTopic, ev *route.Event, raw []byte) {
	var targets []sessions.Session
	h.Sessions.Registry().Read(func(s sessions.Snapshot) { targets = route.Decide(ev, s) })
	if len(targets) == 0 {
		return
	}
	frame, err := protocol.EventFrame(topic.Name, ev.Type, raw)
	if err != nil {
		logrus.WithError(err).WithField("topic", topic.Name).Error("event frame")
		return
	}
	for _, s := range targets {
		s.Conn.Send(frame)
	}
}
