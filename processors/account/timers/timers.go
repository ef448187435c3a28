// Package timers is the timers stage of the account service: it keeps the deadline of every
// session in transition, spread over a fixed set of buckets, and on each tick of a bucket
// sends an expiry to the accounts whose deadline passed. Its work follows the number of
// sessions in transition, never the number of accounts.
package timers

import (
	"context"
	"fmt"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/proto"
)

// TableCodec is the codec of the timers table.
type TableCodec = codecs.Proto[accountpb.TimerIndex, *accountpb.TimerIndex]

const viaTicker = "ticker"

// Decide applies a timer command to a bucket's index (nil: empty). tick identifies the
// command (its own topic, partition and offset) and nowMs is its timestamp.
func Decide(idx *accountpb.TimerIndex, cmd *accountpb.TimerCommand, tick *accountpb.CommandID, nowMs int64) (*accountpb.TimerIndex, []model.Out) {
	next := &accountpb.TimerIndex{}
	if idx != nil {
		next = proto.Clone(idx).(*accountpb.TimerIndex)
	}
	switch k := cmd.Kind.(type) {
	case *accountpb.TimerCommand_Add:
		for _, p := range next.Pending {
			if sameTimer(p, k.Add) {
				return next, nil
			}
		}
		next.Pending = append(next.Pending, k.Add)
		return next, nil
	case *accountpb.TimerCommand_Tick:
		return next, expire(next, tick, nowMs)
	}
	return next, nil
}

func sameTimer(a, b *accountpb.TimerAdd) bool {
	return a.AccountKey == b.AccountKey && a.Issuer == b.Issuer && a.SinceMs == b.SinceMs && string(a.SessionId) == string(b.SessionId)
}

// expire removes the due deadlines and sends one expiry per account: the accounts stage then
// drops every transition entry past the timeout at the tick's time.
func expire(idx *accountpb.TimerIndex, tick *accountpb.CommandID, nowMs int64) []model.Out {
	var outs []model.Out
	sent := map[string]bool{}
	kept := idx.Pending[:0]
	for _, p := range idx.Pending {
		if p.DeadlineMs > nowMs {
			kept = append(kept, p)
			continue
		}
		if sent[p.AccountKey] {
			continue
		}
		sent[p.AccountKey] = true
		cmd := &accountpb.AccountCommand{
			Meta: &accountpb.Meta{
				Command:     tick,
				Tenant:      p.GetMeta().GetTenant(),
				Traceparent: p.GetMeta().GetTraceparent(),
				Tracestate:  p.GetMeta().GetTracestate(),
				TimestampMs: nowMs,
			},
			AccountId: p.AccountId,
			Kind: &accountpb.AccountCommand_Expire{Expire: &accountpb.Expire{
				SessionId: p.SessionId, Issuer: p.Issuer, SinceMs: p.SinceMs,
			}},
		}
		outs = append(outs, model.ProtoOut(atlas.AccountCommands, p.AccountKey, cmd))
	}
	for i := len(kept); i < len(idx.Pending); i++ {
		idx.Pending[i] = nil
	}
	idx.Pending = kept
	return outs
}

// Group defines the timers stage: input keyed by bucket, table of deadline indexes.
func Group() *goka.GroupGraph {
	return goka.DefineGroup(atlas.AccountTimersGroup,
		goka.Input(atlas.AccountTimerCommands, new(codec.Bytes), process),
		goka.Persist(new(TableCodec)),
		goka.Output(atlas.AccountCommands, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

func process(ctx goka.Context, msg interface{}) {
	raw, _ := msg.([]byte)
	group, topic := string(atlas.AccountTimersGroup), string(ctx.Topic())
	cmd := new(accountpb.TimerCommand)
	if err := proto.Unmarshal(raw, cmd); err != nil || cmd.Kind == nil {
		if err == nil {
			err = fmt.Errorf("timer command without kind")
		}
		deadletter.Send(ctx, raw, fmt.Errorf("undecodable timer command: %w", err))
		metrics.MessagesIn.WithLabelValues(group, topic, "unknown", "dead_letter").Inc()
		return
	}
	idx, _ := ctx.Value().(*accountpb.TimerIndex)
	id := &accountpb.CommandID{Topic: topic, Partition: ctx.Partition(), Offset: ctx.Offset()}
	if _, isTick := cmd.Kind.(*accountpb.TimerCommand_Tick); isTick {
		if recs, dup := model.Replay(idx.GetDedupe(), id, viaTicker); dup {
			for _, r := range recs {
				ctx.Emit(goka.Stream(r.Topic), string(r.Key), r.Value)
			}
			return
		}
	}
	now := ctx.Timestamp()
	if now.IsZero() {
		now = time.Now()
	}
	next, outs := Decide(idx, cmd, id, now.UnixMilli())
	if _, isTick := cmd.Kind.(*accountpb.TimerCommand_Tick); isTick {
		if len(outs) == 0 {
			return // nothing was due: the index is unchanged and a redelivery does nothing too
		}
		next.Dedupe = model.Record(next.Dedupe, id, viaTicker, now.UnixMilli(), outs)
	}
	ctx.SetValue(next)
	for _, o := range outs {
		ctx.Emit(o.Topic, o.Key, o.Value)
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, "timer", "ok").Inc()
}

// TickCommand is the encoded tick every bucket receives.
func TickCommand() []byte {
	b, _ := proto.Marshal(&accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Tick{Tick: &accountpb.Tick{}}})
	return b
}

// RunTicker sends a tick to every bucket each interval until ctx ends. Several instances may
// tick at once: a tick only expires what is due, so extra ticks cost little and change nothing.
func RunTicker(ctx context.Context, emitter *goka.Emitter, buckets int, interval time.Duration) {
	tick := TickCommand()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := 0; i < buckets; i++ {
			if _, err := emitter.Emit(model.BucketKey(i), tick); err != nil {
				logrus.WithError(err).WithField("topic", string(atlas.AccountTimerCommands)).Warn("timer tick not sent")
				break
			}
		}
	}
}
