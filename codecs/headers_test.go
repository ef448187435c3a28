package codecs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
)

var tenantA = Tenant{ID: uuid.MustParse("3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f"), Region: "GMS", Major: 83, Minor: 1}

func TestTenantHeadersRoundTrip(t *testing.T) {
	h := tenantA.Headers()
	require.Equal(t, []byte{0x00, 0x53}, h[HeaderMajorVersion], "v83 is 00 53 on the wire")
	require.Equal(t, []byte{0x00, 0x01}, h[HeaderMinorVersion])
	require.Equal(t, "3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f", string(h[HeaderTenantID]))
	got, err := TenantFromHeaders(h)
	require.NoError(t, err)
	require.Equal(t, tenantA, got)

	s, err := ParseTenantString(tenantA.String())
	require.NoError(t, err)
	require.Equal(t, tenantA, s)
	require.NotContains(t, tenantA.String(), "/", "table keys split tenant and rest at '/'")
}

func TestTenantHeadersMalformed(t *testing.T) {
	cases := map[string]func(h goka.Headers){
		"no tenant id":          func(h goka.Headers) { delete(h, HeaderTenantID) },
		"tenant id 35 bytes":    func(h goka.Headers) { h[HeaderTenantID] = h[HeaderTenantID][:35] },
		"tenant id 37 bytes":    func(h goka.Headers) { h[HeaderTenantID] = append(h[HeaderTenantID], 'a') },
		"tenant id not a uuid":  func(h goka.Headers) { h[HeaderTenantID] = []byte(strings.Repeat("z", 36)) },
		"tenant id braces":      func(h goka.Headers) { h[HeaderTenantID] = []byte("{3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e}") },
		"no region":             func(h goka.Headers) { delete(h, HeaderRegion) },
		"region with slash":     func(h goka.Headers) { h[HeaderRegion] = []byte("G/S") },
		"region too long":       func(h goka.Headers) { h[HeaderRegion] = []byte(strings.Repeat("G", 17)) },
		"major decimal text":    func(h goka.Headers) { h[HeaderMajorVersion] = []byte("087") },
		"major 1 byte":          func(h goka.Headers) { h[HeaderMajorVersion] = []byte{83} },
		"minor 3 bytes":         func(h goka.Headers) { h[HeaderMinorVersion] = []byte{0, 0, 1} },
		"minor missing":         func(h goka.Headers) { delete(h, HeaderMinorVersion) },
		"major missing (empty)": func(h goka.Headers) { h[HeaderMajorVersion] = nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			h := tenantA.Headers()
			mutate(h)
			_, err := TenantFromHeaders(h)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrNoTenant), "%v", err)
		})
	}
}

func TestTenantFromText(t *testing.T) {
	vals := map[string]string{HeaderTenantID: tenantA.ID.String(), HeaderRegion: "GMS", HeaderMajorVersion: "83", HeaderMinorVersion: "1"}
	got, err := TenantFromText(func(n string) string { return vals[n] })
	require.NoError(t, err)
	require.Equal(t, tenantA, got)
	for _, bad := range []map[string]string{
		{HeaderMajorVersion: "x"}, {HeaderMajorVersion: "65536"}, {HeaderMinorVersion: "-1"},
		{HeaderTenantID: "nope"}, {HeaderRegion: ""},
	} {
		v := map[string]string{}
		for k, x := range vals {
			v[k] = x
		}
		for k, x := range bad {
			v[k] = x
		}
		_, err := TenantFromText(func(n string) string { return v[n] })
		require.ErrorIs(t, err, ErrNoTenant, "%v", bad)
	}
}

func TestIDKeyRoundTrip(t *testing.T) {
	require.Equal(t, "\x01\x00\x00\x00\x00\x00\x00\x00", IDKey(1))
	require.Equal(t, "\x04\x03\x02\x01\x00\x00\x00\x00", IDKey(0x01020304))
	require.Equal(t, string(make([]byte, 8)), IDKey(0))
	for _, id := range []uint32{0, 1, 7, 255, 256, 0x01020304, 1<<32 - 1} {
		got, err := ParseIDKey([]byte(IDKey(id)))
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
	four, err := ParseIDKey([]byte{0x07, 0, 0, 0})
	require.NoError(t, err)
	require.EqualValues(t, 7, four)
	dec, err := ParseIDKey([]byte("4294967295"))
	require.NoError(t, err)
	require.EqualValues(t, uint32(1<<32-1), dec)

	for _, bad := range [][]byte{nil, {1, 2, 3}, {1, 0, 0, 0, 0, 0, 0, 1}, []byte("4294967296"), []byte("12a"), make([]byte, 9)} {
		_, err := ParseIDKey(bad)
		require.Error(t, err, "%x", bad)
	}
}

func TestTraceParentAndChild(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tr, err := ParseTraceParent(tp)
	require.NoError(t, err)
	require.Equal(t, tp, tr.ParentString())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", tr.TraceIDString())

	h := goka.Headers{HeaderTraceParent: []byte(tp), HeaderTraceState: []byte("k=v")}
	c := TraceFromHeaders(h)
	require.Equal(t, tr.TraceID, c.TraceID, "a child keeps the trace")
	require.NotEqual(t, tr.SpanID, c.SpanID, "a child has its own span")
	out := goka.Headers{}
	c.AddTo(out)
	require.Equal(t, "k=v", string(out[HeaderTraceState]))

	for _, bad := range []string{"", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", tp + "x"} {
		_, err := ParseTraceParent(bad)
		require.ErrorIs(t, err, ErrBadTraceParent, bad)
	}
	fresh := TraceFromHeaders(goka.Headers{HeaderTraceParent: []byte("garbage")})
	require.False(t, fresh.IsZero(), "a bad traceparent starts a new trace")
}

func TestDerivedTraceIsRepeatable(t *testing.T) {
	h := goka.Headers{}
	a := DerivedTraceFromHeaders(h, []byte("topic/0/42"))
	b := DerivedTraceFromHeaders(h, []byte("topic/0/42"))
	c := DerivedTraceFromHeaders(h, []byte("topic/0/43"))
	require.Equal(t, a, b, "the same message must yield the same trace")
	require.NotEqual(t, a.TraceID, c.TraceID)
	_, err := ParseTraceParent(a.ParentString())
	require.NoError(t, err)

	parent := NewTrace()
	h[HeaderTraceParent] = []byte(parent.ParentString())
	d := DerivedTraceFromHeaders(h, []byte("x"))
	require.Equal(t, parent.TraceID, d.TraceID)
	require.NotEqual(t, parent.SpanID, d.SpanID)
}

func TestDeadLetterHeadersRoundTrip(t *testing.T) {
	orig := goka.Headers{"TENANT_ID": []byte("x"), "other": []byte("y")}
	d := DeadLetter{Topic: "t", Partition: 3, Offset: 99, Group: "g", Reason: strings.Repeat("r", 5000)}
	h := d.Headers(orig)
	require.Len(t, orig, 2, "the original headers are not modified")
	require.Equal(t, []byte("y"), h["other"], "original headers are kept")
	got, err := DeadLetterFromHeaders(h)
	require.NoError(t, err)
	require.Equal(t, "t", got.Topic)
	require.EqualValues(t, 3, got.Partition)
	require.EqualValues(t, 99, got.Offset)
	require.LessOrEqual(t, len(got.Reason), maxReasonLen+3, "reasons are bounded")
	_, err = DeadLetterFromHeaders(orig)
	require.Error(t, err)
}

// A huge tracestate (600 KB once crash-looped a group: the records it made exceeded the
// broker's limit) is cut to the W3C bounds; a normal one passes unchanged.
func TestTraceStateIsBounded(t *testing.T) {
	parent := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	huge := strings.Repeat("vendor=value,", 600*1024/13)
	for _, tr := range []Trace{
		TraceFromHeaders(goka.Headers{HeaderTraceParent: []byte(parent), HeaderTraceState: []byte(huge)}),
		DerivedTraceFromHeaders(goka.Headers{HeaderTraceParent: []byte(parent), HeaderTraceState: []byte(huge)}, []byte("seed")),
	} {
		require.LessOrEqual(t, len(tr.State), 512)
		require.LessOrEqual(t, strings.Count(tr.State, ",")+1, 32)
		require.True(t, strings.HasPrefix(tr.State, "vendor=value,vendor=value"), "members are kept from the front")
	}
	normal := "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	require.Equal(t, normal, BoundTraceState(normal))
	long := strings.Repeat("x", 200) + "=1,ok=2"
	require.True(t, strings.HasPrefix(BoundTraceState(long+","+strings.Repeat("a=b,", 200)), "ok=2,a=b"), "an oversized member goes first")
	require.Equal(t, "ok=1,b=2", BoundTraceState("a=\xff,ok=1,c=\x01,b=2"), "members with bytes the grammar does not allow go")
}
