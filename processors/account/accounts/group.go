package accounts

import (
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
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
	stage := model.Stage{Group: string(atlas.AccountsGroup)}
	defer stage.Begin(ctx)()
	raw, _ := msg.([]byte)
	cmd := new(accountpb.AccountCommand)
	if !stage.Decode(ctx, raw, cmd, func() error { return model.HasCommandID(cmd, cmd.Kind != nil)() }) {
		return
	}
	kind := kindName(cmd)
	acc, _ := ctx.Value().(*accountpb.Account)
	if stage.Replayed(ctx, kind, acc.GetDedupe(), cmd.Meta, via(cmd)) {
		return
	}
	next, outs := Decide(p.cfg, ctx.Key(), acc, cmd)
	if next != nil {
		next.Dedupe = model.Record(next.Dedupe, cmd.Meta.Command, via(cmd), cmd.Meta.TimestampMs, outs)
		ctx.SetValue(next)
	}
	stage.Emit(ctx, kind, cmd.Meta, outs)
}
