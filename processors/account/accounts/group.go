package accounts

import (
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
	"google.golang.org/protobuf/proto"
)

// TableCodec is the codec of the accounts table, for views.
type TableCodec = codecs.Proto[accountpb.Account, *accountpb.Account]

// Group defines the accounts stage: input keyed tenant/a/id, table of accounts.
func Group(cfg model.Config) *goka.GroupGraph {
	p := &processor{cfg: cfg}
	return goka.DefineGroup(atlas.AccountsGroup,
		goka.Input(atlas.AccountCommands, new(codec.Bytes), p.process),
		goka.Persist(new(TableCodec)),
		goka.Output(atlas.EventTopicAccountStatus, new(codec.Bytes)),
		goka.Output(atlas.EventTopicAccountSessionStatus, new(codec.Bytes)),
		goka.Output(atlas.AccountTimerCommands, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

type processor struct {
	cfg model.Config
}

// via names the stage that forwards each kind of command, for the dedupe watermarks: logins
// and creates come through the names stage, expiries from the timers stage, the rest straight
// from ingress.
func via(cmd *accountpb.AccountCommand) string {
	switch cmd.Kind.(type) {
	case *accountpb.AccountCommand_Create, *accountpb.AccountCommand_Login:
		return "names"
	case *accountpb.AccountCommand_Expire:
		return "timers"
	}
	return "ingress"
}

func kindName(cmd *accountpb.AccountCommand) string {
	switch cmd.Kind.(type) {
	case *accountpb.AccountCommand_Create:
		return "create"
	case *accountpb.AccountCommand_Login:
		return "login"
	case *accountpb.AccountCommand_ProgressState:
		return "progress_state"
	case *accountpb.AccountCommand_Logout:
		return "logout"
	case *accountpb.AccountCommand_Expire:
		return "expire"
	case *accountpb.AccountCommand_Ban:
		return "ban"
	case *accountpb.AccountCommand_Unban:
		return "unban"
	case *accountpb.AccountCommand_SetTos:
		return "set_tos"
	}
	return "unknown"
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	start := time.Now()
	raw, _ := msg.([]byte)
	group, topic := string(atlas.AccountsGroup), string(ctx.Topic())
	defer func() { metrics.ProcessingSeconds.WithLabelValues(group, topic).Observe(time.Since(start).Seconds()) }()

	cmd := new(accountpb.AccountCommand)
	if err := proto.Unmarshal(raw, cmd); err != nil || cmd.Kind == nil || cmd.GetMeta().GetCommand() == nil {
		if err == nil {
			err = fmt.Errorf("account command without kind or command id")
		}
		deadletter.Send(ctx, raw, fmt.Errorf("undecodable account command: %w", err))
		metrics.MessagesIn.WithLabelValues(group, topic, "unknown", "dead_letter").Inc()
		return
	}
	kind := kindName(cmd)
	acc, _ := ctx.Value().(*accountpb.Account)
	if recs, dup := model.Replay(acc.GetDedupe(), cmd.Meta.Command, via(cmd)); dup {
		model.EmitReplay(ctx, cmd.Meta, recs)
		metrics.MessagesIn.WithLabelValues(group, topic, kind, "duplicate").Inc()
		return
	}
	next, outs := Decide(p.cfg, ctx.Key(), acc, cmd)
	if next != nil {
		next.Dedupe = model.Record(next.Dedupe, cmd.Meta.Command, via(cmd), cmd.Meta.TimestampMs, outs)
		ctx.SetValue(next)
	}
	model.EmitOuts(ctx, cmd.Meta, outs)
	for _, o := range outs {
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, kind, "ok").Inc()
}
