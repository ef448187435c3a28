package model

import (
	"fmt"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/deadletter"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/tracing"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/proto"
)

// Stage is what the callbacks of the account stages share: reading an internal message from
// its raw bytes (a message that does not decode is dead-lettered, never a processor stop),
// replaying a command that was already applied, emitting with metrics.
type Stage struct {
	Group string
	step  tracing.Step
}

// Begin starts a callback: it returns the function that records the callback's duration
// (and ends its span, when tracing is on; Decode starts it).
func (s *Stage) Begin(ctx goka.Context) func() {
	start := time.Now()
	return func() {
		s.step.End()
		metrics.ProcessingSeconds.WithLabelValues(s.Group, string(ctx.Topic())).Observe(time.Since(start).Seconds())
	}
}

// Decode unmarshals raw into m and runs check on it; on failure the message is dead-lettered
// with the reason and Decode returns false. A decoded message's span is a child of the trace
// its Meta carries: internal records have no headers (see EmitOuts).
func (s *Stage) Decode(ctx goka.Context, raw []byte, m proto.Message, check func() error) bool {
	err := proto.Unmarshal(raw, m)
	if err == nil {
		err = check()
	}
	if err != nil {
		s.step = tracing.StartRecord(ctx, s.Group, "")
		s.DeadLetter(ctx, raw, MetaOf(m), fmt.Errorf("undecodable %T: %w", m, err))
		metrics.MessagesIn.WithLabelValues(s.Group, string(ctx.Topic()), "unknown", "dead_letter").Inc()
		return false
	}
	meta := MetaOf(m)
	s.step = tracing.StartRecordUnder(ctx, s.Group, meta.GetTraceparent(), meta.GetTracestate())
	return true
}

// DeadLetter dead-letters the record being processed for reason. A public record's dead letter
// keeps its headers; an internal record has none, and its dead letter names the tenant and
// trace of its Meta (m, nil when it did not decode) as the public command did.
func (s *Stage) DeadLetter(ctx goka.Context, raw []byte, m *accountpb.Meta, reason error) {
	orig := ctx.Headers()
	if len(orig) == 0 && m.GetTenant() != "" {
		orig = Headers(m)
	}
	deadletter.SendWithHeaders(ctx, raw, reason, orig)
}

// MetaOf is the Meta an internal message carries (nil for a timer tick, which has none).
func MetaOf(m proto.Message) *accountpb.Meta {
	switch v := m.(type) {
	case interface{ GetMeta() *accountpb.Meta }:
		return v.GetMeta()
	case *accountpb.TimerCommand:
		return v.GetAdd().GetMeta()
	}
	return nil
}

// Replayed re-emits what the command emitted when it was applied before, and reports whether
// it was: a redelivered command changes nothing.
func (s *Stage) Replayed(ctx goka.Context, kind string, d *accountpb.Dedupe, m *accountpb.Meta, via string) bool {
	recs, dup := Replay(d, m.GetCommand(), via)
	if dup {
		EmitReplay(ctx, m, recs)
		metrics.MessagesIn.WithLabelValues(s.Group, string(ctx.Topic()), kind, "duplicate").Inc()
	}
	return dup
}

// Emit emits a decision's records and counts the command.
func (s *Stage) Emit(ctx goka.Context, kind string, m *accountpb.Meta, outs []Out) {
	EmitOuts(ctx, m, outs)
	for _, o := range outs {
		metrics.MessagesOut.WithLabelValues(s.Group, string(o.Topic)).Inc()
		if o.Cause != "" {
			metrics.SystemErrors.WithLabelValues(s.Group, o.Cause).Inc()
			logrus.WithFields(logrus.Fields{"group": s.Group, "command": kind, "cause": o.Cause,
				"topic": m.GetCommand().GetTopic(), "partition": m.GetCommand().GetPartition(),
				"offset": m.GetCommand().GetOffset()}).Warn("answered SYSTEM_ERROR")
		}
	}
	metrics.MessagesIn.WithLabelValues(s.Group, string(ctx.Topic()), kind, "ok").Inc()
}

// HasCommandID is the check of every internal command: it must name its public command.
func HasCommandID(m interface{ GetMeta() *accountpb.Meta }, kindSet bool) func() error {
	return func() error {
		if !kindSet || m.GetMeta().GetCommand() == nil {
			return fmt.Errorf("command without kind or command id")
		}
		return nil
	}
}

// CauseOversize is the SYSTEM_ERROR cause of a command refused because a record it needs
// would exceed the record limit.
const CauseOversize = "oversize"

// Refuse handles a command a record of which would exceed the record limit (what says which):
// the command changes nothing, and instead of its records the stage emits its contract answer
// (answer, a SYSTEM_ERROR with CauseOversize) where it has one, or dead-letters the command
// once with reason oversize where it has none. It returns the records to emit and remember.
func (s *Stage) Refuse(ctx goka.Context, kind string, raw []byte, m *accountpb.Meta, what string, answer []Out) []Out {
	logrus.WithFields(logrus.Fields{"group": s.Group, "command": kind, "why": what,
		"topic": m.GetCommand().GetTopic(), "partition": m.GetCommand().GetPartition(),
		"offset": m.GetCommand().GetOffset()}).Warn("command refused: a record it needs exceeds the record limit")
	if len(answer) == 0 {
		s.DeadLetter(ctx, raw, m, fmt.Errorf("%s: %s", codecs.ReasonOversize, what))
		metrics.MessagesIn.WithLabelValues(s.Group, string(ctx.Topic()), kind, "dead_letter").Inc()
	}
	return answer
}
