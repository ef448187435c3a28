package deadletter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
)

func TestFitKeepsARecordThatFits(t *testing.T) {
	h := goka.Headers{codecs.HeaderDLQReason: []byte("bad")}
	k, v, out, cut := Fit(recordsize.Default, "k", []byte("v"), h)
	require.False(t, cut)
	require.Equal(t, "k", k)
	require.Equal(t, []byte("v"), v)
	require.Equal(t, h, out)
}

// Hostile headers (huge, or named like ours) are dropped and named; the tenant and the
// dead-letter headers stay; the result always fits.
func TestFitDropsHostileHeaders(t *testing.T) {
	const limit = 2048
	h := goka.Headers{
		codecs.HeaderDLQReason:         []byte("undecodable"),
		codecs.HeaderTenantID:          []byte("11111111-2222-4333-8444-555555555555"),
		"tracestate":                   bytes.Repeat([]byte("a"), 5000),
		"x-atlas-dlq-fake":             bytes.Repeat([]byte("b"), 3000),
		codecs.HeaderDLQDroppedHeaders: bytes.Repeat([]byte("c"), 3000),
	}
	value := bytes.Repeat([]byte("z"), 4000)
	k, v, out, cut := Fit(limit, strings.Repeat("k", 100), value, h)
	require.True(t, cut)
	require.LessOrEqual(t, recordsize.Of(k, v, out), limit)
	require.Equal(t, "undecodable", string(out[codecs.HeaderDLQReason]))
	require.Equal(t, h[codecs.HeaderTenantID], out[codecs.HeaderTenantID])
	require.Equal(t, "4000", string(out[codecs.HeaderDLQOriginalLength]))
	require.NotContains(t, out, "tracestate")
	require.NotContains(t, out, "x-atlas-dlq-fake")
	require.Contains(t, string(out[codecs.HeaderDLQDroppedHeaders]), "tracestate")
	require.Equal(t, value[:len(v)], v)
	require.NotEmpty(t, v, "room is left for the body's beginning")
}
