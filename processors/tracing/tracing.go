// Package tracing exports OpenTelemetry spans for the product's processing steps when the
// standard OTEL_* environment asks for it, and costs nothing otherwise.
//
// Spans take the W3C trace context the product already carries (the traceparent header of
// every record): a step's span is a child of the record's traceparent, so a trace continues
// across services, and a step that writes a traceparent of its own (the account ingress derives
// one per command, the gateway starts one per action) exports its span under that very span
// id, so that what the next service parents on is a span the backend has.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/lovoo/goka"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

var enabled atomic.Bool

// Enabled reports whether spans are exported.
func Enabled() bool { return enabled.Load() }

// Setup installs the exporter the environment asks for: OTEL_TRACES_EXPORTER=otlp, over
// OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf (the default) or grpc, to
// OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT; the exporters read them and the other
// OTEL_EXPORTER_OTLP_* settings). Unset or "none": nothing is exported and every span is a
// no-op. service is the service.name unless OTEL_SERVICE_NAME says otherwise. The returned
// function flushes and stops the exporter.
func Setup(ctx context.Context, service string) (func(context.Context) error, error) {
	none := func(context.Context) error { return nil }
	switch exp := strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER")); exp {
	case "", "none":
		otel.SetTracerProvider(noop.NewTracerProvider())
		enabled.Store(false)
		return none, nil
	case "otlp":
	default:
		return none, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: want otlp or none", exp)
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exporter sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		exporter, err = otlptracehttp.New(ctx)
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx)
	default:
		return none, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return none, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res := resource.Default() // reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		if merged, err := resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", service))); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}))
	otel.SetTracerProvider(tp)
	enabled.Store(true)
	return tp.Shutdown, nil
}

// Step is a started span, or nothing when tracing is off.
type Step struct{ span trace.Span }

// End ends the span.
func (s Step) End() {
	if s.span != nil {
		s.span.End()
	}
}

// Fail records why the step failed.
func (s Step) Fail(err error) {
	if s.span != nil && err != nil {
		s.span.RecordError(err)
	}
}

// Annotate adds an attribute to the span.
func (s Step) Annotate(key, value string) {
	if s.span != nil {
		s.span.SetAttributes(attribute.String(key, value))
	}
}

// The starts below do nothing but one atomic load while tracing is off: they run on every
// record, so names and attributes are built only behind that check.

// StartRecord starts the span of group's step on a consumed record, named after the group and
// the topic: a child of the record's traceparent (a new trace when it has none). own, when
// not empty, is the traceparent the step writes on its outputs: the span takes its span id.
func StartRecord(ctx goka.Context, group, own string) Step {
	if !enabled.Load() {
		return Step{}
	}
	ownTrace, _ := codecs.ParseTraceParent(own) // "" or malformed: none
	h := ctx.Headers()
	return startOnRecord(ctx, group, string(h[codecs.HeaderTraceParent]), string(h[codecs.HeaderTraceState]), ownTrace)
}

// StartRecordUnder is StartRecord for a record whose trace travels in its value instead of
// its headers (the account service's internal records carry it in their Meta): the span is a
// child of traceparent and tracestate (a new trace when traceparent is not valid).
func StartRecordUnder(ctx goka.Context, group, traceparent, tracestate string) Step {
	if !enabled.Load() {
		return Step{}
	}
	return startOnRecord(ctx, group, traceparent, tracestate, codecs.Trace{})
}

// startOnRecord starts the span of group's step on the record ctx is at, under the given parent.
func startOnRecord(ctx goka.Context, group, traceparent, tracestate string, own codecs.Trace) Step {
	return start(context.Background(), group+" "+string(ctx.Topic()), traceparent, tracestate, own,
		attribute.String("messaging.destination.name", string(ctx.Topic())),
		attribute.Int("messaging.destination.partition.id", int(ctx.Partition())),
		attribute.Int64("messaging.kafka.offset", ctx.Offset()))
}

// StartAction starts the root span of something the product begins itself (a player's
// action), under trace t, which its records carry; the name is its words joined.
func StartAction(t codecs.Trace, name ...string) Step {
	if !enabled.Load() {
		return Step{}
	}
	return start(context.Background(), strings.Join(name, " "), "", "", t)
}

func start(ctx context.Context, name, traceparent, tracestate string, own codecs.Trace, attrs ...attribute.KeyValue) Step {
	kind := trace.SpanKindConsumer
	if parent, err := codecs.ParseTraceParent(traceparent); err == nil {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: parent.TraceID, SpanID: parent.SpanID,
			TraceFlags: trace.TraceFlags(parent.Flags), Remote: true})
		if ts, err := trace.ParseTraceState(tracestate); err == nil {
			sc = sc.WithTraceState(ts)
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	} else if !own.IsZero() {
		// No parent: the step's own trace is the root (the trace id comes from it).
		kind = trace.SpanKindProducer
		ctx = context.WithValue(ctx, rootTraceKey{}, own.TraceID)
	}
	if !own.IsZero() {
		ctx = context.WithValue(ctx, spanIDKey{}, own.SpanID)
	}
	_, span := otel.Tracer("github.com/atlasstreams/atlas").Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	return Step{span: span}
}

type spanIDKey struct{}
type rootTraceKey struct{}

// idGenerator gives a span the span id (and, for a root, the trace id) the product already
// wrote on its records; otherwise random ids, as the SDK's default.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	r := codecs.NewTrace() // random ids from crypto/rand
	tid, sid := trace.TraceID(r.TraceID), trace.SpanID(r.SpanID)
	if t, ok := ctx.Value(rootTraceKey{}).([16]byte); ok {
		tid = t
	}
	if s, ok := ctx.Value(spanIDKey{}).([8]byte); ok {
		sid = s
	}
	return tid, sid
}

func (idGenerator) NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID {
	if s, ok := ctx.Value(spanIDKey{}).([8]byte); ok {
		return s
	}
	return trace.SpanID(codecs.NewTrace().SpanID)
}
