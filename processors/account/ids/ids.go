// Package ids is the ids stage of the account service: one sequence per tenant, which hands
// out account ids from 1 upward and never twice. A request delivered twice gets two ids; the
// names stage binds the first and ignores the other, so ids may have gaps but never repeat.
package ids

import (
	"fmt"
	"math"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
)

// TableCodec is the codec of the ids table.
type TableCodec = codecs.Proto[accountpb.IDSequence, *accountpb.IDSequence]

// ErrExhausted reports a tenant that used every uint32 id.
var ErrExhausted = fmt.Errorf("tenant has used all %d account ids", uint64(math.MaxUint32))

// Decide assigns the next id of the tenant's sequence seq (nil: none assigned yet).
func Decide(seq *accountpb.IDSequence, req *accountpb.IDRequest) (*accountpb.IDSequence, model.Out, error) {
	last := seq.GetLast()
	if last == math.MaxUint32 {
		return nil, model.Out{}, ErrExhausted
	}
	next := &accountpb.IDSequence{Last: last + 1}
	assigned := &accountpb.NameCommand{
		Meta: req.GetMeta(),
		Kind: &accountpb.NameCommand_IdAssigned{IdAssigned: &accountpb.IDAssigned{
			AccountId: next.Last, ForCommand: req.GetMeta().GetCommand(),
		}},
	}
	return next, model.ProtoOut(atlas.AccountNameCommands, req.GetNameKey(), assigned), nil
}

// Group defines the ids stage: input keyed by tenant, table of sequences.
func Group() *goka.GroupGraph {
	return goka.DefineGroup(atlas.AccountIDsGroup,
		goka.Input(atlas.AccountIDRequests, new(codec.Bytes), process),
		goka.Persist(new(TableCodec)),
		goka.Output(atlas.AccountNameCommands, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

func process(ctx goka.Context, msg interface{}) {
	stage := model.Stage{Group: string(atlas.AccountIDsGroup)}
	defer stage.Begin(ctx)()
	raw, _ := msg.([]byte)
	req := new(accountpb.IDRequest)
	if !stage.Decode(ctx, raw, req, func() error {
		if req.GetNameKey() == "" {
			return fmt.Errorf("id request without a name key")
		}
		return nil
	}) {
		return
	}
	seq, _ := ctx.Value().(*accountpb.IDSequence)
	next, out, err := Decide(seq, req)
	if err != nil {
		deadletter.Send(ctx, raw, err)
		metrics.MessagesIn.WithLabelValues(stage.Group, string(ctx.Topic()), "id_request", "dead_letter").Inc()
		return
	}
	ctx.SetValue(next)
	stage.Emit(ctx, "id_request", req.Meta, []model.Out{out})
}
