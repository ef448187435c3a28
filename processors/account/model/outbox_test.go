package model

import (
	"bytes"
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// What a key remembers is bounded in bytes: older commands go once the budget is used, the
// newest is always kept (it alone lets its redelivery re-emit), and every applied command is
// still recognised by its watermark.
func TestRecordBoundsRememberedBytes(t *testing.T) {
	var d *accountpb.Dedupe
	big := []Out{{Topic: "t", Key: "k", Value: bytes.Repeat([]byte("v"), 10<<10)}}
	for off := int64(1); off <= 4; off++ {
		d = Record(d, &accountpb.CommandID{Topic: "in", Offset: off}, "ingress", 0, big, 16<<10)
	}
	require.Len(t, d.Recent, 1, "two 10 KiB answers exceed a 16 KiB budget")
	require.EqualValues(t, 4, d.Recent[0].Command.Offset)
	for off := int64(1); off <= 4; off++ {
		_, dup := Replay(d, &accountpb.CommandID{Topic: "in", Offset: off}, "ingress")
		require.True(t, dup, "offset %d", off)
	}
	d = Record(d, &accountpb.CommandID{Topic: "in", Offset: 5}, "ingress", 0, big, 1<<10)
	require.Len(t, d.Recent, 1, "the newest is kept over budget")
	small := []Out{{Topic: "t", Key: "k", Value: []byte("v")}}
	for off := int64(6); off <= 9; off++ {
		d = Record(d, &accountpb.CommandID{Topic: "in", Offset: off}, "ingress", 0, small, 16<<10)
	}
	require.Len(t, d.Recent, recentCommands, "small answers are bounded by count")
}

// The tenant headers of a command are the tenant's wire form, from the cache or not, and the
// cache holds at most its bound of tenants.
func TestTenantHeaderCacheIsBounded(t *testing.T) {
	c := tenantHeaderCache{max: 2}
	for i := 0; i < 5; i++ {
		tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: uint16(83 + i), Minor: 1}
		for range 2 { // a miss, then (while there is room) a hit
			h := c.wire(tenant.String())
			got, err := codecs.TenantFromHeaders(h)
			require.NoError(t, err)
			require.Equal(t, tenant, got)
			require.Equal(t, recordsize.HeaderBytes(h), c.bytes(tenant.String()))
		}
	}
	require.EqualValues(t, 2, c.size.Load())
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	require.Equal(t, 2, n)

	require.Empty(t, c.wire("not a tenant"))
	require.Zero(t, c.bytes("not a tenant"))
}

// Oversize sizes the headers without building them, to the same count.
func TestHeaderBytesCountsTheHeaders(t *testing.T) {
	tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}.String()
	for _, m := range []*accountpb.Meta{
		{Tenant: tenant},
		{Tenant: tenant, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{Tenant: tenant, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "k=v"},
		{Tenant: "bad", Traceparent: "x"},
	} {
		require.Equal(t, recordsize.HeaderBytes(Headers(m)), headerBytes(m), "%v", m)
	}
}

// Oversize counts the command's headers on the records that carry them: public ones.
func TestOversizeCountsHeadersOfPublicRecordsOnly(t *testing.T) {
	m := &accountpb.Meta{Tenant: codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}.String(),
		Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	value := make([]byte, 1000)
	limit := recordsize.Of("k", value, nil) + headerBytes(m) - 1 // fits without the headers only
	require.Empty(t, Oversize(limit, "", 0, m, []Out{{Topic: atlas.AccountCommands, Key: "k", Value: value}}))
	require.NotEmpty(t, Oversize(limit, "", 0, m, []Out{{Topic: atlas.EventTopicAccountSessionStatus, Key: "k", Value: value}}))
}
