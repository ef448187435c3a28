package names

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
	"google.golang.org/protobuf/proto"
)

// TableCodec is the codec of the names table, for views.
type TableCodec = codecs.Proto[accountpb.NameEntry, *accountpb.NameEntry]

// viaIngress: registrations and logins reach a name key from the ingress stage only.
const viaIngress = "ingress"

// Group defines the names stage: input keyed tenant/n/name, table of names.
func Group(cfg model.Config, pw model.Passwords) *goka.GroupGraph {
	p := &processor{cfg: cfg, pw: pw}
	return goka.DefineGroup(atlas.AccountNamesGroup,
		goka.Input(atlas.AccountNameCommands, new(codec.Bytes), p.process),
		goka.Persist(new(TableCodec)),
		goka.Output(atlas.AccountIDRequests, new(codec.Bytes)),
		goka.Output(atlas.AccountCommands, new(codec.Bytes)),
		goka.Output(atlas.EventTopicAccountSessionStatus, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

type processor struct {
	cfg model.Config
	pw  model.Passwords
}

// oversizeAnswer is the contract answer of a command refused for its size: a login's
// SYSTEM_ERROR; registrations and id assignments have none.
func oversizeAnswer(era string, cmd *accountpb.NameCommand) []model.Out {
	if l, ok := cmd.Kind.(*accountpb.NameCommand_Login); ok {
		s := model.Session{ID: l.Login.GetSessionId(), IPAddress: l.Login.GetIpAddress(), HWID: l.Login.GetHwid(), Era: era}
		return []model.Out{s.SystemError(model.CauseOversize)}
	}
	return nil
}

func kindName(cmd *accountpb.NameCommand) string {
	switch cmd.Kind.(type) {
	case *accountpb.NameCommand_Register:
		return "register"
	case *accountpb.NameCommand_Login:
		return "login"
	case *accountpb.NameCommand_IdAssigned:
		return "id_assigned"
	case *accountpb.NameCommand_Unregister:
		return "unregister"
	}
	return "unknown"
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	stage := model.Stage{Group: string(atlas.AccountNamesGroup)}
	defer stage.Begin(ctx)()
	raw, _ := msg.([]byte)
	cmd := new(accountpb.NameCommand)
	if !stage.Decode(ctx, raw, cmd, func() error { return model.HasCommandID(cmd, cmd.Kind != nil)() }) {
		return
	}
	kind := kindName(cmd)
	entry, _ := ctx.Value().(*accountpb.NameEntry)
	// An id assignment carries its registration's command id and is idempotent by the entry's
	// state; everything else is deduplicated by command id.
	// An unregistration is idempotent by state as well (it comes from the accounts stage).
	_, byState := cmd.Kind.(*accountpb.NameCommand_IdAssigned)
	if _, un := cmd.Kind.(*accountpb.NameCommand_Unregister); un {
		byState = true
	}
	if !byState && stage.Replayed(ctx, kind, entry.GetDedupe(), cmd.Meta, viaIngress) {
		return
	}
	res := Decide(p.cfg, p.pw, ctx.Key(), entry, cmd)
	limit := recordsize.Limit(ctx.Context())
	remember := func(row *accountpb.NameEntry, outs []model.Out) {
		if row != nil && !byState {
			row.Dedupe = model.Record(row.Dedupe, cmd.Meta.Command, viaIngress, cmd.Meta.TimestampMs, outs, model.RememberBudget(limit))
		}
	}
	remember(res.Entry, res.Outs)
	if what := model.Oversize(limit, ctx.Key(), codecs.ProtoSize(res.Entry), cmd.Meta, res.Outs); what != "" {
		// The entry stays as it was and only remembers the command and its answer.
		res.Entry = nil
		if entry != nil {
			res.Entry = proto.Clone(entry).(*accountpb.NameEntry)
		}
		res.Outs = stage.Refuse(ctx, kind, raw, cmd.Meta, what, oversizeAnswer(p.cfg.Contracts, cmd))
		res.Outcome = model.CauseOversize
		remember(res.Entry, res.Outs)
		if len(res.Outs) == 0 { // dead-lettered, and counted so, by Refuse
			if res.Entry != nil {
				ctx.SetValue(res.Entry)
			}
			return
		}
	}
	if res.Entry != nil {
		ctx.SetValue(res.Entry)
	}
	if res.Remove {
		ctx.Delete() // the tombstone: the name is free again
	}
	stage.Emit(ctx, kind, cmd.Meta, res.Outs)
	metrics.AccountOutcomes.WithLabelValues(kind, res.Outcome).Inc()
	if res.Outcome == OutcomeDuplicateName || res.Outcome == OutcomeUnsealable {
		logrus.WithFields(logrus.Fields{
			"group": stage.Group, "topic": string(ctx.Topic()), "partition": ctx.Partition(), "offset": ctx.Offset(),
			"tenant": model.TenantKeyOf(ctx.Key()), "trace_id": model.TraceID(cmd.Meta), "outcome": res.Outcome,
		}).Warn("name command refused")
	}
}
