// Package deadletter sends a record a processor cannot use to the dead-letter topic, with its
// original key, bytes and headers and the reason, so that the processor can go on.
package deadletter

import (
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
)

// Send dead-letters the message being processed. raw must be the message's value exactly as
// read (inputs are consumed with goka's codec.Bytes for that reason). The group must declare
// goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)).
func Send(ctx goka.Context, raw []byte, reason error) {
	d := codecs.DeadLetter{
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Group:     string(ctx.Group()),
		Reason:    reason.Error(),
	}
	ctx.Emit(atlas.DeadLetterTopic, ctx.Key(), raw, goka.WithCtxEmitHeaders(d.Headers(ctx.Headers())))
	metrics.DeadLettered.WithLabelValues(d.Group, d.Topic).Inc()
	logrus.WithFields(logrus.Fields{
		"group": d.Group, "topic": d.Topic, "partition": d.Partition, "offset": d.Offset,
		"tenant": string(ctx.Headers()[codecs.HeaderTenantID]), "reason": d.Reason,
	}).Warn("message dead-lettered")
}
