package ingress

import (
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/atlasstreams/atlas/processors/tracing"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
)

// adminTypes and ownTypes are the type labels of this stage besides the catalog's.
var (
	adminTypes = []string{"BAN", "UNBAN", "SET_TOS"}
	ownTypes   = append([]string{"CREATE_ACCOUNT", "unknown"}, adminTypes...)
)

// typeLabel keeps the type label of a command in a closed set: a made-up type is "other".
func typeLabel(typ string) string { return metrics.TypeLabel(typ, ownTypes...) }

// Group defines the ingress stage. It keeps no table: its state is the topics it writes.
func Group(pw model.Passwords, names model.NameCharset, era string) *goka.GroupGraph {
	p := &processor{pw: pw, names: names, era: era}
	group := string(atlas.AccountIngressGroup)
	sessionTypes := []string{"unknown"}
	if t, ok := codecs.LookupCatalogTopic("COMMAND_TOPIC_ACCOUNT_SESSION"); ok {
		for _, ty := range t.Types {
			sessionTypes = append(sessionTypes, ty.Value)
		}
	}
	metrics.DeclareIn(group, string(atlas.CommandTopicCreateAccount), []string{"CREATE_ACCOUNT", "unknown"}, "ok", "dead_letter")
	metrics.DeclareIn(group, string(atlas.CommandTopicAccount), []string{codecs.AccountCommandTypeCreate, codecs.AccountCommandTypeDelete, "unknown"}, "ok", "dead_letter")
	metrics.DeclareIn(group, string(atlas.CommandTopicAccountSession), sessionTypes, "ok", "dead_letter")
	metrics.DeclareIn(group, string(atlas.AccountAdminTopic), append([]string{"unknown"}, adminTypes...), "ok", "dead_letter")
	return goka.DefineGroup(atlas.AccountIngressGroup,
		goka.Input(atlas.CommandTopicCreateAccount, new(codec.Bytes), p.process),
		// Current upstream's account command topic (CREATE, DELETE), read in both eras: the
		// service may sit beside services of either.
		goka.Input(atlas.CommandTopicAccount, new(codec.Bytes), p.process),
		goka.Input(atlas.CommandTopicAccountSession, new(codec.Bytes), p.process),
		goka.Input(atlas.AccountAdminTopic, new(codec.Bytes), p.process),
		goka.Output(atlas.AccountNameCommands, new(codec.Bytes)),
		goka.Output(atlas.AccountCommands, new(codec.Bytes)),
		goka.Output(atlas.EventTopicAccountSessionStatus, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

type processor struct {
	pw    model.Passwords
	names model.NameCharset
	era   string
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	start := time.Now()
	raw, _ := msg.([]byte)
	group, topic := string(atlas.AccountIngressGroup), string(ctx.Topic())
	defer func() { metrics.ProcessingSeconds.WithLabelValues(group, topic).Observe(time.Since(start).Seconds()) }()

	d, err := Decide(p.pw, p.names, p.era, Message{
		Topic: topic, Partition: ctx.Partition(), Offset: ctx.Offset(), Key: ctx.Key(),
		Value: raw, Headers: ctx.Headers(), Timestamp: ctx.Timestamp(),
	})
	// The command's span is the one its records name: the trace ingress derives for it.
	step := tracing.StartRecord(ctx, group, d.Meta.GetTraceparent())
	defer step.End()
	step.Annotate("atlas.command", typeLabel(d.Type)) // a closed set, never the raw input
	if err != nil {
		step.Fail(err)
		deadletter.Send(ctx, raw, err)
		metrics.MessagesIn.WithLabelValues(group, topic, typeLabel(d.Type), "dead_letter").Inc()
		return
	}
	// The internal command carries the public one re-encoded, plus its seal or hash: on an
	// internal topic that allows less than the public one it may not fit.
	if what := model.Oversize(recordsize.Limit(ctx.Context()), "", 0, d.Meta, d.Outs); what != "" {
		stage := model.Stage{Group: group}
		if answer := stage.Refuse(ctx, typeLabel(d.Type), raw, d.Meta, what, d.OversizeAnswer()); answer != nil {
			stage.Emit(ctx, typeLabel(d.Type), d.Meta, answer)
		}
		return
	}
	model.EmitOuts(ctx, d.Meta, d.Outs)
	for _, o := range d.Outs {
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, typeLabel(d.Type), "ok").Inc()
}
