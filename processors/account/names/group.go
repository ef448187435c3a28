package names

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

func kindName(cmd *accountpb.NameCommand) string {
	switch cmd.Kind.(type) {
	case *accountpb.NameCommand_Register:
		return "register"
	case *accountpb.NameCommand_Login:
		return "login"
	case *accountpb.NameCommand_IdAssigned:
		return "id_assigned"
	}
	return "unknown"
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	start := time.Now()
	raw, _ := msg.([]byte)
	group, topic := string(atlas.AccountNamesGroup), string(ctx.Topic())
	defer func() { metrics.ProcessingSeconds.WithLabelValues(group, topic).Observe(time.Since(start).Seconds()) }()

	cmd := new(accountpb.NameCommand)
	if err := proto.Unmarshal(raw, cmd); err != nil || cmd.Kind == nil || cmd.GetMeta().GetCommand() == nil {
		if err == nil {
			err = fmt.Errorf("name command without kind or command id")
		}
		deadletter.Send(ctx, raw, fmt.Errorf("undecodable name command: %w", err))
		metrics.MessagesIn.WithLabelValues(group, topic, "unknown", "dead_letter").Inc()
		return
	}
	kind := kindName(cmd)
	entry, _ := ctx.Value().(*accountpb.NameEntry)
	// An id assignment carries its registration's command id and is idempotent by the entry's
	// state; everything else is deduplicated by command id.
	_, isBind := cmd.Kind.(*accountpb.NameCommand_IdAssigned)
	if !isBind {
		if recs, dup := model.Replay(entry.GetDedupe(), cmd.Meta.Command, viaIngress); dup {
			model.EmitReplay(ctx, cmd.Meta, recs)
			metrics.MessagesIn.WithLabelValues(group, topic, kind, "duplicate").Inc()
			return
		}
	}
	res := Decide(p.cfg, p.pw, ctx.Key(), entry, cmd)
	if res.Entry != nil {
		if !isBind {
			res.Entry.Dedupe = model.Record(res.Entry.Dedupe, cmd.Meta.Command, viaIngress, cmd.Meta.TimestampMs, res.Outs)
		}
		ctx.SetValue(res.Entry)
	}
	model.EmitOuts(ctx, cmd.Meta, res.Outs)
	for _, o := range res.Outs {
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, kind, "ok").Inc()
	metrics.AccountOutcomes.WithLabelValues(kind, res.Outcome).Inc()
	if res.Outcome == OutcomeDuplicateName || res.Outcome == OutcomeUnsealable {
		logrus.WithFields(logrus.Fields{
			"group": group, "topic": topic, "partition": ctx.Partition(), "offset": ctx.Offset(),
			"tenant": model.TenantKeyOf(ctx.Key()), "trace_id": model.TraceID(cmd.Meta), "outcome": res.Outcome,
		}).Warn("name command refused")
	}
}
