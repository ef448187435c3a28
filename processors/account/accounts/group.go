package accounts

import (
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/sirupsen/logrus"
)

// TableCodec is the codec of the accounts table, for views.
type TableCodec = codecs.Proto[accountpb.Account, *accountpb.Account]

// groupTableCodec is the codec the stage itself reads and writes the table with: it hands a
// key's row back as written instead of unmarshalling it again (see codecs.OwnedProto; the
// callback owns the row ctx.Value gives and leaves it alone once passed to SetValue).
type groupTableCodec = codecs.OwnedProto[accountpb.Account, *accountpb.Account]

// Group defines the accounts stage: input keyed tenant/a/id, table of accounts.
func Group(cfg model.Config) *goka.GroupGraph {
	p := &processor{cfg: cfg}
	return goka.DefineGroup(atlas.AccountsGroup,
		goka.Input(atlas.AccountCommands, new(codec.Bytes), p.process),
		goka.Persist(new(groupTableCodec)),
		goka.Output(atlas.EventTopicAccountStatus, new(codec.Bytes)),
		goka.Output(atlas.EventTopicAccountSessionStatus, new(codec.Bytes)),
		goka.Output(atlas.AccountTimerCommands, new(codec.Bytes)),
		goka.Output(atlas.AccountNameCommands, new(codec.Bytes)),
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
	case *accountpb.AccountCommand_Create, *accountpb.AccountCommand_Login, *accountpb.AccountCommand_Purge:
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
	case *accountpb.AccountCommand_Delete:
		return "delete"
	case *accountpb.AccountCommand_Purge:
		return "purge"
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
	// A purge carries its DELETE's command id, which the row remembers: it is idempotent by
	// state instead, and must not be taken for a redelivery of the DELETE.
	if _, purge := cmd.Kind.(*accountpb.AccountCommand_Purge); purge {
		if acc.GetDeleted() {
			ctx.Delete() // the tombstone: the compacted table forgets the account
		}
		stage.Emit(ctx, kind, cmd.Meta, nil)
		return
	}
	if stage.Replayed(ctx, kind, acc.GetDedupe(), cmd.Meta, via(cmd)) {
		return
	}
	if _, del := cmd.Kind.(*accountpb.AccountCommand_Delete); del {
		// A transition past its timeout no longer keeps the account logged in.
		if why := DeleteRefusal(Current(p.cfg, acc, cmd.GetMeta().GetTimestampMs())); why != "" {
			logrus.WithFields(logrus.Fields{"group": stage.Group, "account": cmd.GetAccountId(), "why": why}).Warn("account delete refused")
			metrics.MessagesIn.WithLabelValues(stage.Group, string(ctx.Topic()), kind, "refused").Inc()
			return
		}
	}
	// Each ctx.Value gives this callback a row of its own (groupTableCodec): the decision may
	// change it.
	next, outs := DecideOwned(p.cfg, ctx.Key(), acc, cmd)
	limit := recordsize.Limit(ctx.Context())
	remember := func(row *accountpb.Account, outs []model.Out) {
		if row != nil {
			row.Dedupe = model.Record(row.Dedupe, cmd.Meta.Command, via(cmd), cmd.Meta.TimestampMs, outs, model.RememberBudget(limit))
		}
	}
	remember(next, outs)
	if what := model.Oversize(limit, ctx.Key(), codecs.ProtoSize(next), cmd.Meta, outs); what != "" {
		// The stored account stays as it was; it only remembers the command and its answer,
		// so that a redelivery answers the same.
		next, _ = ctx.Value().(*accountpb.Account) // the row as stored, decoded again
		outs = stage.Refuse(ctx, kind, raw, cmd.Meta, what, oversizeAnswer(p.cfg.Contracts, cmd))
		remember(next, outs)
		if len(outs) == 0 { // dead-lettered, and counted so, by Refuse
			if next != nil {
				ctx.SetValue(next)
			}
			return
		}
	}
	if next != nil {
		ctx.SetValue(next) // next is the codec's from here on: not changed again
	}
	stage.Emit(ctx, kind, cmd.Meta, outs)
}

// oversizeAnswer is the contract answer of a command refused for its size: a session
// command's SYSTEM_ERROR; the others have none.
func oversizeAnswer(era string, cmd *accountpb.AccountCommand) []model.Out {
	switch k := cmd.Kind.(type) {
	case *accountpb.AccountCommand_Login:
		s := model.Session{ID: k.Login.GetSessionId(), AccountID: cmd.GetAccountId(), IPAddress: k.Login.GetIpAddress(), HWID: k.Login.GetHwid(), Era: era}
		return []model.Out{s.SystemError(model.CauseOversize)}
	case *accountpb.AccountCommand_ProgressState:
		s := model.Session{ID: k.ProgressState.GetSessionId(), AccountID: cmd.GetAccountId(), Era: era}
		return []model.Out{s.SystemError(model.CauseOversize)}
	}
	return nil
}
