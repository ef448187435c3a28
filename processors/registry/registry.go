// Package registry runs the account registry: one shared, horizontally scaled Goka group that
// turns EVENT_TOPIC_ACCOUNT_STATUS into a compacted table of which accounts are logged in,
// per tenant. Channel instances read the table through a Goka view (package views), so a
// channel that starts late still knows the whole registry.
//
//	EVENT_TOPIC_ACCOUNT_STATUS (key: 8-byte id, tenant in headers, public JSON)
//	  -> input: decode, check tenant; bad input -> dead-letter
//	  -> loop, re-keyed tenant/a/<id> -> table row {logged_in, name, timestamp}
//
// The loop is needed because a Goka table is keyed like the input that writes it, and the
// input's key (the account id alone) is the same for every tenant.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/registry/registrypb"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/proto"
)

// TableCodec is the codec of the registry table and of the group's loop topic.
type TableCodec = codecs.Proto[registrypb.Entry, *registrypb.Entry]

// LoopTopic is the group's loop topic ("<group>-loop"), which carries the re-keyed updates.
func LoopTopic() goka.Stream { return loopTopic }

// loopTopic is asked of Goka, which names loops, once rather than per message.
var loopTopic goka.Stream

func init() { loopTopic = goka.Stream(Group().LoopStream().Topic()) }

// Group defines the registry group.
func Group() *goka.GroupGraph {
	return goka.DefineGroup(atlas.RegistryGroup,
		goka.Input(atlas.EventTopicAccountStatus, new(codec.Bytes), consume),
		// Loop values are decoded in the callback: a value Goka's codec cannot decode stops
		// the processor, and the message would come back after every restart.
		goka.Loop(new(codec.Bytes), apply),
		goka.Persist(new(TableCodec)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

// Topics are the topics the group reads and writes, its loop and table included.
func Topics(o runtime.Options) []runtime.TopicSpec {
	specs := o.Streams(atlas.EventTopicAccountStatus, LoopTopic(), atlas.DeadLetterTopic)
	return append(specs, o.Tables(atlas.RegistryTable)...)
}

// Running is the started group.
type Running struct {
	Processor *runtime.Running
}

// Ready reports whether the group has recovered its table and processes events.
func (r *Running) Ready() bool { return r.Processor.Ready() }

// Done is closed once the group stopped after ctx ended.
func (r *Running) Done() <-chan struct{} { return r.Processor.Done() }

// Start runs the group until ctx ends. It starts at the oldest offset: the registry is the
// sum of every status event, so a new group must read them all.
//
// Goka needs the input, the loop and the table to have the same number of partitions, and
// the input topic is not ours: upstream chose its partition count. So when the input exists,
// a missing loop or table is created with the input's count, and an existing one with another
// count is an error here rather than a processor that fails to start again and again.
func Start(ctx context.Context, o runtime.Options) (*Running, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("registry: no Kafka brokers")
	}
	if err := matchInputPartitions(o); err != nil {
		return nil, err
	}
	// It writes its loop, its table and dead letters; the input is upstream's.
	o = o.WithRecordLimit(Topics(o)[1:])
	return &Running{Processor: o.StartProcessor(ctx, Group(), sarama.OffsetOldest)}, nil
}

func matchInputPartitions(o runtime.Options) error {
	input := string(atlas.EventTopicAccountStatus)
	cfg := o.Sarama(sarama.OffsetOldest)
	cfg.ClientID = o.ClientID + "-registry-admin"
	admin, err := sarama.NewClusterAdmin(o.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("registry: connect to %v: %w", o.Brokers, err)
	}
	md, err := admin.DescribeTopics([]string{input})
	_ = admin.Close()
	if err != nil {
		return fmt.Errorf("registry: describe %s: %w", input, err)
	}
	if len(md) != 1 || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) == 0 {
		// Not there yet: the supervised processor waits for it, as for any missing input.
		return nil
	}
	o.Partitions = len(md[0].Partitions)
	specs := append(o.Streams(LoopTopic()), o.Tables(atlas.RegistryTable)...)
	mism, err := o.EnsureTopics(specs)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if len(mism) > 0 {
		return fmt.Errorf("registry: %s has %d partitions, and its group's loop and table must have as many: %v",
			input, o.Partitions, mism)
	}
	return nil
}

// Outcome of an input event.
type Outcome int

const (
	// Update: the event asks for a row; loop it to its tenant-scoped key.
	Update Outcome = iota
	// Ignore: a valid event the registry does not track (CREATED, DELETED, an unknown status).
	Ignore
	// Reject: the event cannot be used; dead-letter it.
	Reject
)

// Decision is what Decide made of one input event.
type Decision struct {
	Outcome Outcome
	// Status is the event's status when it decoded ("" otherwise), for metrics and logs.
	Status string
	// Key and Entry are set for Update.
	Key   string
	Entry *registrypb.Entry
	// Err is the reason of a Reject, or what was ignored.
	Err error
}

// Decide is the pure decision over one record of EVENT_TOPIC_ACCOUNT_STATUS. The account id
// comes from the body, not the key: other producers of the topic choose keys (and partitions)
// their own way, while the body's account_id is the contract.
func Decide(headers goka.Headers, raw []byte, ts time.Time) Decision {
	ev, err := codecs.DecodeAccountStatusEvent(raw)
	if errors.Is(err, codecs.ErrUnknownType) {
		// The catalog tells consumers to ignore discriminator values they do not know:
		// newer producers may add statuses.
		return Decision{Outcome: Ignore, Status: "unknown", Err: err}
	}
	if err != nil {
		return Decision{Outcome: Reject, Err: err}
	}
	tenant, err := codecs.TenantFromHeaders(headers)
	if err != nil {
		return Decision{Outcome: Reject, Status: ev.Status, Err: err}
	}
	var loggedIn bool
	switch ev.Status {
	case codecs.AccountStatusEventStatusLoggedIn:
		loggedIn = true
	case codecs.AccountStatusEventStatusLoggedOut:
	default:
		return Decision{Outcome: Ignore, Status: ev.Status}
	}
	if ev.AccountID == 0 {
		// Ids start at 1; a 0 here is a producer's bug, and a row for it would mislead.
		return Decision{Outcome: Reject, Status: ev.Status, Err: errors.New("account_id 0 in a " + ev.Status + " event")}
	}
	return Decision{
		Outcome: Update,
		Status:  ev.Status,
		Key:     model.AccountKey(tenant, ev.AccountID),
		Entry: &registrypb.Entry{
			AccountId:   ev.AccountID,
			Name:        ev.Name,
			LoggedIn:    loggedIn,
			TimestampMs: timestampMs(ts),
		},
	}
}

// timestampMs is a Kafka timestamp in Unix milliseconds; 0 when the producer set none
// (Sarama reports the zero time, other clients -1 ms).
func timestampMs(ts time.Time) int64 {
	if ms := ts.UnixMilli(); !ts.IsZero() && ms > 0 {
		return ms
	}
	return 0
}

// Apply computes the row after update upd; changed is false when the row stays as it is.
//
// Status events of one account are in order on one partition when the account service
// produces them, but upstream producers choose partitions by load, not by key, so an older
// event can arrive after a newer one. An update older than the row (both timestamps known) is
// therefore stale and ignored; among equal timestamps the later arrival wins. Applying the
// same update twice changes nothing, so redelivery is harmless.
func Apply(cur, upd *registrypb.Entry) (next *registrypb.Entry, changed bool) {
	if cur != nil && cur.TimestampMs > 0 && upd.TimestampMs > 0 && upd.TimestampMs < cur.TimestampMs {
		return cur, false
	}
	next = &registrypb.Entry{
		AccountId:   upd.AccountId,
		Name:        upd.Name,
		LoggedIn:    upd.LoggedIn,
		TimestampMs: upd.TimestampMs,
	}
	if next.Name == "" && cur != nil {
		next.Name = cur.Name
	}
	if cur != nil && proto.Equal(cur, next) {
		return cur, false
	}
	return next, true
}

var group = string(atlas.RegistryGroup)

func consume(ctx goka.Context, msg interface{}) {
	start := time.Now()
	topic := string(ctx.Topic())
	defer func() { metrics.ProcessingSeconds.WithLabelValues(group, topic).Observe(time.Since(start).Seconds()) }()

	raw, _ := msg.([]byte)
	d := Decide(ctx.Headers(), raw, ctx.Timestamp())
	switch d.Outcome {
	case Reject:
		deadletter.Send(ctx, raw, fmt.Errorf("account status event refused by the registry: %w", d.Err))
		metrics.MessagesIn.WithLabelValues(group, topic, statusLabel(d.Status), "dead_letter").Inc()
	case Ignore:
		if d.Err != nil {
			logrus.WithFields(logrus.Fields{
				"group": group, "topic": topic, "partition": ctx.Partition(), "offset": ctx.Offset(),
			}).WithError(d.Err).Debug("status event of an unknown status ignored")
		}
		metrics.MessagesIn.WithLabelValues(group, topic, statusLabel(d.Status), "ignored").Inc()
	case Update:
		b, err := proto.Marshal(d.Entry)
		if err != nil { // cannot happen for this message; never stop the processor for it
			deadletter.Send(ctx, raw, fmt.Errorf("registry entry: %w", err))
			return
		}
		ctx.Loopback(d.Key, b)
		metrics.MessagesIn.WithLabelValues(group, topic, statusLabel(d.Status), "ok").Inc()
		metrics.MessagesOut.WithLabelValues(group, string(loopTopic)).Inc()
	}
}

// statusLabel keeps the metric's label set small: statuses come from the input.
func statusLabel(s string) string {
	switch s {
	case codecs.AccountStatusEventStatusCreated, codecs.AccountStatusEventStatusLoggedIn,
		codecs.AccountStatusEventStatusLoggedOut, codecs.AccountStatusEventStatusDeleted:
		return s
	case "":
		return "undecodable"
	}
	return "unknown"
}

func apply(ctx goka.Context, msg interface{}) {
	topic := string(ctx.Topic())
	raw, _ := msg.([]byte)
	upd := new(registrypb.Entry)
	if err := proto.Unmarshal(raw, upd); err != nil {
		// Only this group writes its loop; garbage there is someone else's mistake.
		deadletter.Send(ctx, raw, fmt.Errorf("undecodable registry update: %w", err))
		metrics.MessagesIn.WithLabelValues(group, topic, "entry", "dead_letter").Inc()
		return
	}
	cur, _ := ctx.Value().(*registrypb.Entry)
	next, changed := Apply(cur, upd)
	outcome := "unchanged"
	if changed {
		ctx.SetValue(next)
		outcome = "ok"
	}
	metrics.MessagesIn.WithLabelValues(group, topic, "entry", outcome).Inc()
}
