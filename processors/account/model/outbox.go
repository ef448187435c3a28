package model

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"google.golang.org/protobuf/proto"
)

// How much a key remembers of the commands applied to it. Redelivery (at-least-once) happens
// within the seconds between a callback and its offset commit, or across a rebalance, so a few
// recent commands of the last hour are enough; older duplicates are caught by the watermarks.
//
// What is remembered is also bounded in bytes (RememberBytes, or a quarter of the record
// limit where that is less), so a row stays far below the broker's record limit whatever its
// commands emitted: the newest command is always remembered, older ones only within the budget.
const (
	recentCommands   = 4
	recentHorizonMs  = int64(60 * 60 * 1000)
	sourceKeyDivider = "/"
	RememberBytes    = 32 << 10
)

// RememberBudget is the byte budget of the remembered records under a record limit.
func RememberBudget(limit int) int { return min(RememberBytes, limit/4) }

// Out is one record a decision emits: topic, key and the encoded value.
type Out struct {
	Topic goka.Stream
	Key   string
	Value []byte
	// Cause, on a SYSTEM_ERROR answer, says what went wrong inside: the stage logs and counts
	// it (the answer itself carries only the code). Never written to a topic.
	Cause string
}

// ProtoOut encodes an internal message for an internal topic.
func ProtoOut(topic goka.Stream, key string, m proto.Message) Out {
	b, err := codecs.MarshalProto(m)
	if err != nil {
		// Marshalling a well-formed generated message cannot fail; if it does, the build is
		// broken, not the input.
		panic(err)
	}
	return Out{Topic: topic, Key: key, Value: b}
}

// sourceKey names the ordered stream a command reached this key through: its source topic and
// partition, and the stage that forwarded it (via). Within one such stream commands arrive in
// offset order; across streams they do not (a login detours through the names stage while a
// logout of the same source partition goes straight on), so each stream has its own watermark.
func sourceKey(id *accountpb.CommandID, via string) string {
	return via + "|" + id.GetTopic() + sourceKeyDivider + strconv.FormatInt(int64(id.GetPartition()), 10)
}

// Replay looks a command up among those already applied to a key. If it was applied, it
// returns true and the records it emitted then (none when it was applied too long ago to be
// remembered): the caller re-emits them and changes nothing.
func Replay(d *accountpb.Dedupe, id *accountpb.CommandID, via string) ([]*accountpb.Emitted, bool) {
	for _, a := range d.GetRecent() {
		c := a.GetCommand()
		if c.GetOffset() == id.GetOffset() && c.GetPartition() == id.GetPartition() && c.GetTopic() == id.GetTopic() {
			return a.Emitted, true
		}
	}
	if high, ok := d.GetHigh()[sourceKey(id, via)]; ok && id.GetOffset() <= high {
		return nil, true
	}
	return nil, false
}

// Record remembers that the command, which came through via, was applied at nowMs and what it
// emitted, within budget bytes of remembered records (RememberBudget).
func Record(d *accountpb.Dedupe, id *accountpb.CommandID, via string, nowMs int64, outs []Out, budget int) *accountpb.Dedupe {
	if d == nil {
		d = &accountpb.Dedupe{}
	}
	emitted := make([]*accountpb.Emitted, len(outs))
	for i, o := range outs {
		emitted[i] = &accountpb.Emitted{Topic: string(o.Topic), Key: []byte(o.Key), Value: o.Value}
	}
	kept := d.Recent[:0]
	for _, a := range d.Recent {
		if nowMs-a.AppliedMs < recentHorizonMs {
			kept = append(kept, a)
		}
	}
	kept = append(kept, &accountpb.Applied{Command: id, Emitted: emitted, AppliedMs: nowMs})
	if len(kept) > recentCommands {
		kept = kept[len(kept)-recentCommands:]
	}
	used := 0
	for i := len(kept) - 1; i >= 0; i-- {
		used += emittedBytes(kept[i].Emitted)
		if used > budget && i < len(kept)-1 {
			kept = kept[i+1:]
			break
		}
	}
	d.Recent = kept
	if d.High == nil {
		d.High = make(map[string]int64, 1)
	}
	if k := sourceKey(id, via); id.GetOffset() > d.High[k] {
		d.High[k] = id.GetOffset()
	} else if _, ok := d.High[k]; !ok {
		d.High[k] = id.GetOffset()
	}
	return d
}

func emittedBytes(recs []*accountpb.Emitted) int {
	n := 0
	for _, r := range recs {
		n += len(r.Topic) + len(r.Key) + len(r.Value)
	}
	return n
}

// Oversize names the first record of a decision that would exceed limit, "" when all fit:
// each out with the command's headers (a public out's; internal records have none), and the
// table row (rowBytes, its encoded size; 0 when none is written) under key.
func Oversize(limit int, key string, rowBytes int, m *accountpb.Meta, outs []Out) string {
	hb := headerBytes(m)
	if rowBytes > 0 && recordsize.WithHeaderBytes(key, nil, hb)+rowBytes > limit {
		return fmt.Sprintf("table row of %d bytes, record limit %d", rowBytes, limit)
	}
	for _, o := range outs {
		h := hb
		if Internal(o.Topic) {
			h = 0 // internal records carry no headers (see EmitOuts)
		}
		if n := recordsize.WithHeaderBytes(o.Key, o.Value, h); n > limit {
			return fmt.Sprintf("%s record of %d bytes, record limit %d", o.Topic, n, limit)
		}
	}
	return ""
}

// Headers are the headers of every record a command causes: its tenant and the trace span the
// service opened for it.
func Headers(m *accountpb.Meta) goka.Headers {
	h := make(goka.Headers, 6)
	for k, v := range tenantHeaders.wire(m.GetTenant()) {
		h[k] = v
	}
	if m.GetTraceparent() != "" {
		h[codecs.HeaderTraceParent] = []byte(m.GetTraceparent())
		if m.GetTracestate() != "" {
			h[codecs.HeaderTraceState] = []byte(m.GetTracestate())
		}
	}
	return h
}

// headerBytes is recordsize.HeaderBytes(Headers(m)), without building the headers.
func headerBytes(m *accountpb.Meta) int {
	n := tenantHeaders.bytes(m.GetTenant())
	if tp := m.GetTraceparent(); tp != "" {
		n += recordsize.Header(codecs.HeaderTraceParent, []byte(tp))
		if ts := m.GetTracestate(); ts != "" {
			n += recordsize.Header(codecs.HeaderTraceState, []byte(ts))
		}
	}
	return n
}

// EmitOuts emits freshly decided records. Records to public topics carry the command's tenant
// and trace headers; internal records carry none, since their Meta holds both: every header is
// work for each layer a record passes (five headers cost a pass-through processor a sixth of
// its rate), and the session-command path has an internal record per command.
func EmitOuts(ctx goka.Context, m *accountpb.Meta, outs []Out) {
	var h goka.ContextOption
	for _, o := range outs {
		h = emit(ctx, m, o.Topic, o.Key, o.Value, h)
	}
}

// EmitReplay re-emits what an already applied command emitted, byte for byte.
func EmitReplay(ctx goka.Context, m *accountpb.Meta, recs []*accountpb.Emitted) {
	var h goka.ContextOption
	for _, r := range recs {
		h = emit(ctx, m, goka.Stream(r.Topic), string(r.Key), r.Value, h)
	}
}

// emit emits one record, with the headers option h of m, built on first need and returned.
func emit(ctx goka.Context, m *accountpb.Meta, topic goka.Stream, key string, value []byte, h goka.ContextOption) goka.ContextOption {
	if Internal(topic) {
		ctx.Emit(topic, key, value)
		return h
	}
	if h == nil {
		h = goka.WithCtxEmitHeaders(Headers(m))
	}
	ctx.Emit(topic, key, value, h)
	return h
}

// Internal tells the account service's internal topics, whose records are its protobuf
// messages with a Meta, from the public ones.
func Internal(topic goka.Stream) bool {
	switch topic {
	case atlas.AccountNameCommands, atlas.AccountIDRequests, atlas.AccountCommands, atlas.AccountTimerCommands:
		return true
	}
	return false
}

// TraceID is the trace id of the command, for log lines ("" when it has none).
func TraceID(m *accountpb.Meta) string {
	if t, err := codecs.ParseTraceParent(m.GetTraceparent()); err == nil {
		return t.TraceIDString()
	}
	return ""
}

// tenantHeaders keeps the wire form of the tenant headers by the tenant's string form (the
// Meta's): every record of every command carries them, and parsing the string and formatting
// the uuid anew for each record cost 5 % of the session-command pipeline. The wire values are
// shared by the records, which only read them.
var tenantHeaders = tenantHeaderCache{max: 4096}

type tenantHeaderCache struct {
	max     int32
	entries sync.Map // tenant string -> tenantWire, never modified once stored
	size    atomic.Int32
}

type tenantWire struct {
	headers goka.Headers
	bytes   int // recordsize.HeaderBytes(headers)
}

// wire is the tenant headers of tenant (a codecs.Tenant.String form), shared: the caller must
// not change them. An unparsable tenant has none.
func (c *tenantHeaderCache) wire(tenant string) goka.Headers { return c.get(tenant).headers }

// bytes is what the tenant headers of tenant add to a record.
func (c *tenantHeaderCache) bytes(tenant string) int { return c.get(tenant).bytes }

// get looks tenant up, parsing it on a miss. Past max tenants, new ones are parsed each time,
// not kept: the cache cannot grow without bound whatever tenants the internal topics carry.
func (c *tenantHeaderCache) get(tenant string) tenantWire {
	if v, ok := c.entries.Load(tenant); ok {
		return v.(tenantWire)
	}
	t, err := codecs.ParseTenantString(tenant)
	if err != nil {
		return tenantWire{}
	}
	h := t.Headers()
	w := tenantWire{headers: h, bytes: recordsize.HeaderBytes(h)}
	if c.size.Load() < c.max {
		if _, loaded := c.entries.LoadOrStore(tenant, w); !loaded {
			c.size.Add(1)
		}
	}
	return w
}
