package account_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/tracing"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps what it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

// With the standard OTEL_* environment asking for OTLP, the account stages export spans that
// continue the caller's trace: the ingress span is a child of the command's traceparent and
// has the span id the service's answers carry, and the next stage's span is its child.
func TestSpansContinueTheCommandsTrace(t *testing.T) {
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	shutdown, err := tracing.Setup(context.Background(), "atlas-test")
	require.NoError(t, err)
	t.Cleanup(func() {
		t.Setenv("OTEL_TRACES_EXPORTER", "none")
		_, _ = tracing.Setup(context.Background(), "atlas-test") // back to no-op for the other tests
	})

	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	caller := codecs.NewTrace()
	v, err := (&codecs.AccountSessionCommand{SessionID: s1, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeCreate,
		Body: &codecs.AccountSessionCommandCreateBody{AccountName: "bob", Password: "secret", IPAddress: "10.0.0.7"}}).Encode()
	require.NoError(t, err)
	hdr := accounttest.DefaultTenant.Headers()
	hdr[codecs.HeaderTraceParent] = []byte(caller.ParentString())
	h.Produce(atlas.CommandTopicAccountSession, codecs.IDKey(0), v, hdr)
	events := h.Events()
	require.NotEmpty(t, events)
	answer, err := codecs.ParseTraceParent(string(events[len(events)-1].Headers[codecs.HeaderTraceParent]))
	require.NoError(t, err)
	require.Equal(t, caller.TraceID, answer.TraceID, "the answer continues the caller's trace")
	require.NoError(t, shutdown(context.Background())) // flush

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var ingress *tracepb.Span
	for _, s := range rcv.spans {
		if string(s.TraceId) == string(caller.TraceID[:]) && string(s.ParentSpanId) == string(caller.SpanID[:]) {
			ingress = s
		}
	}
	require.NotNil(t, ingress, "a span that is a child of the caller's (of %d spans)", len(rcv.spans))
	require.Equal(t, answer.SpanID[:], ingress.SpanId, "exported under the span id the answer names")
	children := 0
	for _, s := range rcv.spans {
		if string(s.ParentSpanId) == string(ingress.SpanId) {
			children++
		}
	}
	require.Positive(t, children, "the next stages' spans are children of the ingress span")
}
