// Package timers is the timers stage of the account service: the deadline of every session
// in transition, in rows keyed by time slot and shard (model.TimerRowKey). A ticker sends one
// tick per row of every slot that ended; the tick sends an expiry to each account whose
// deadline passed and deletes the row. Work follows the number of sessions in transition,
// never the number of accounts, and no row outlives its slot.
package timers

import (
	"context"
	"fmt"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/proto"
)

// A row's value is the concatenation of encoded TimerIndex messages, one per add: protobuf
// merges repeated fields of concatenated messages, so the whole is one valid TimerIndex. An add
// appends its bytes without decoding the row; only a tick decodes it, once, and deletes it.

// Result is a decision of the timers stage: the row to store (nil: delete the row), whether
// it changed, and what to emit.
type Result struct {
	Row     []byte
	Changed bool
	Outs    []model.Out
}

// Decide applies a timer command to the row at key (nil: empty).
//   - An add joins its row, unless its slot may already have been ticked (wallSlot, the slot
//     of the wall clock when it is processed, is not before it): then it moves to the next
//     slot, so a late add still expires.
//   - A tick (tick identifies it, nowMs is its timestamp) sends one expiry per account with a
//     due deadline and drops those deadlines.
func Decide(key string, row []byte, cmd *accountpb.TimerCommand, tick *accountpb.CommandID, nowMs, wallSlot int64) (Result, error) {
	switch k := cmd.Kind.(type) {
	case *accountpb.TimerCommand_Add:
		if slot, shard, err := model.ParseTimerRowKey(key); err == nil && slot <= wallSlot {
			next := model.TimerRowKey(wallSlot+1, shard)
			return Result{Row: row, Outs: []model.Out{model.ProtoOut(atlas.AccountTimerCommands, next, cmd)}}, nil
		}
		entry, err := proto.Marshal(&accountpb.TimerIndex{Pending: []*accountpb.TimerAdd{k.Add}})
		if err != nil {
			return Result{}, err
		}
		next := make([]byte, 0, len(row)+len(entry))
		return Result{Row: append(append(next, row...), entry...), Changed: true}, nil
	case *accountpb.TimerCommand_Tick:
		if len(row) == 0 {
			return Result{}, nil
		}
		idx := new(accountpb.TimerIndex)
		if err := proto.Unmarshal(row, idx); err != nil {
			return Result{}, fmt.Errorf("timer row %s: %w", key, err)
		}
		outs := expire(idx, tick, nowMs)
		res := Result{Changed: true, Outs: outs}
		if len(idx.Pending) > 0 {
			b, err := proto.Marshal(idx)
			if err != nil {
				return Result{}, err
			}
			res.Row = b
		}
		return res, nil
	}
	return Result{Row: row}, nil
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
		if sent[p.AccountKey] { // several deadlines of one account (or an add delivered twice)
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

// Group defines the timers stage: input keyed by timer row, table of rows.
func Group(cfg model.Config) *goka.GroupGraph {
	p := &processor{cfg: cfg}
	return goka.DefineGroup(atlas.AccountTimersGroup,
		goka.Input(atlas.AccountTimerCommands, new(codec.Bytes), p.process),
		goka.Persist(new(codec.Bytes)),
		goka.Output(atlas.AccountCommands, new(codec.Bytes)),
		goka.Output(atlas.AccountTimerCommands, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

type processor struct {
	cfg model.Config
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	stage := model.Stage{Group: string(atlas.AccountTimersGroup)}
	defer stage.Begin(ctx)()
	group, topic := stage.Group, string(ctx.Topic())
	raw, _ := msg.([]byte)
	cmd := new(accountpb.TimerCommand)
	if !stage.Decode(ctx, raw, cmd, func() error {
		if cmd.Kind == nil {
			return fmt.Errorf("timer command without kind")
		}
		return nil
	}) {
		return
	}
	row, _ := ctx.Value().([]byte)
	now := ctx.Timestamp()
	if now.IsZero() {
		now = p.cfg.Now()
	}
	id := &accountpb.CommandID{Topic: topic, Partition: ctx.Partition(), Offset: ctx.Offset()}
	slotMs := p.cfg.TickInterval.Milliseconds()
	res, err := Decide(ctx.Key(), row, cmd, id, now.UnixMilli(), p.cfg.Now().UnixMilli()/slotMs)
	if err != nil {
		stage.DeadLetter(ctx, raw, model.MetaOf(cmd), err)
		metrics.MessagesIn.WithLabelValues(group, topic, "timer", "dead_letter").Inc()
		return
	}
	if res.Changed {
		if res.Row == nil {
			ctx.Delete()
		} else {
			ctx.SetValue(res.Row)
		}
	}
	for _, o := range res.Outs {
		ctx.Emit(o.Topic, o.Key, o.Value)
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, "timer", "ok").Inc()
}

// TickCommand is the encoded tick every row receives.
func TickCommand() []byte {
	b, _ := proto.Marshal(&accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Tick{Tick: &accountpb.Tick{}}})
	return b
}

// catchUpSlots is how far back a starting ticker visits slots: rows of slots that ended while
// no ticker ran (a full restart) still expire.
const catchUpSlots = 120

// RunTicker sends, each interval, a tick to every row of every slot that ended since the last
// round, until ctx ends. Several instances may tick the same slot: a tick deletes its row, so
// the later ones find nothing.
func RunTicker(ctx context.Context, emitter *goka.Emitter, cfg model.Config) {
	tick := TickCommand()
	slotMs := cfg.TickInterval.Milliseconds()
	last := cfg.Now().UnixMilli()/slotMs - catchUpSlots
	t := time.NewTicker(cfg.TickInterval)
	defer t.Stop()
	for {
		now := cfg.Now().UnixMilli() / slotMs
		for s := last + 1; s <= now && ctx.Err() == nil; s++ {
			for shard := 0; shard < cfg.TimerShards; shard++ {
				if _, err := emitter.Emit(model.TimerRowKey(s, shard), tick); err != nil {
					logrus.WithError(err).WithField("topic", string(atlas.AccountTimerCommands)).Warn("timer tick not sent")
					now = s - 1 // retry this slot next round
					break
				}
			}
		}
		last = now
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
