package ingress

import (
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
)

// Group defines the ingress stage. It keeps no table: its state is the topics it writes.
func Group(pw model.Passwords) *goka.GroupGraph {
	p := &processor{pw: pw}
	return goka.DefineGroup(atlas.AccountIngressGroup,
		goka.Input(atlas.CommandTopicCreateAccount, new(codec.Bytes), p.process),
		goka.Input(atlas.CommandTopicAccountSession, new(codec.Bytes), p.process),
		goka.Input(atlas.AccountAdminTopic, new(codec.Bytes), p.process),
		goka.Output(atlas.AccountNameCommands, new(codec.Bytes)),
		goka.Output(atlas.AccountCommands, new(codec.Bytes)),
		goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)),
	)
}

type processor struct {
	pw model.Passwords
}

func (p *processor) process(ctx goka.Context, msg interface{}) {
	start := time.Now()
	raw, _ := msg.([]byte)
	group, topic := string(atlas.AccountIngressGroup), string(ctx.Topic())
	defer func() { metrics.ProcessingSeconds.WithLabelValues(group, topic).Observe(time.Since(start).Seconds()) }()

	d, err := Decide(p.pw, Message{
		Topic: topic, Partition: ctx.Partition(), Offset: ctx.Offset(), Key: ctx.Key(),
		Value: raw, Headers: ctx.Headers(), Timestamp: ctx.Timestamp(),
	})
	if err != nil {
		deadletter.Send(ctx, raw, err)
		metrics.MessagesIn.WithLabelValues(group, topic, d.Type, "dead_letter").Inc()
		return
	}
	model.EmitOuts(ctx, d.Meta, d.Outs)
	for _, o := range d.Outs {
		metrics.MessagesOut.WithLabelValues(group, string(o.Topic)).Inc()
	}
	metrics.MessagesIn.WithLabelValues(group, topic, d.Type, "ok").Inc()
}
