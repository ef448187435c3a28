// Package deadletter sends a record a processor cannot use to the dead-letter topic, with its
// original key, bytes and headers and the reason, so that the processor can go on.
package deadletter

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
)

// Send dead-letters the message being processed. raw must be the message's value exactly as
// read (inputs are consumed with goka's codec.Bytes for that reason). The group must declare
// goka.Output(atlas.DeadLetterTopic, new(codec.Bytes)).
//
// A dead letter must never be what stops the processor: one that would exceed the record
// limit (the dead-letter topic may allow less than the topic the message came from, and the
// dead-letter headers add to it) is cut to fit, see Fit.
func Send(ctx goka.Context, raw []byte, reason error) {
	SendWithHeaders(ctx, raw, reason, ctx.Headers())
}

// SendWithHeaders is Send with orig as the message's headers: a record that carries its tenant
// in its value, not its headers, is dead-lettered with the tenant headers named.
func SendWithHeaders(ctx goka.Context, raw []byte, reason error, orig goka.Headers) {
	d := codecs.DeadLetter{
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Group:     string(ctx.Group()),
		Reason:    reason.Error(),
	}
	key, value, headers, cut := Fit(recordsize.Limit(ctx.Context()), ctx.Key(), raw, d.Headers(orig))
	ctx.Emit(atlas.DeadLetterTopic, key, value, goka.WithCtxEmitHeaders(headers))
	metrics.DeadLettered.WithLabelValues(d.Group, d.Topic).Inc()
	logrus.WithFields(logrus.Fields{
		"group": d.Group, "topic": d.Topic, "partition": d.Partition, "offset": d.Offset,
		"tenant": string(orig[codecs.HeaderTenantID]), "reason": d.Reason, "cut_to_fit": cut,
	}).Warn("message dead-lettered")
}

// tenantHeaders are kept on a cut dead letter while they are small (a hostile one is not);
// the dead-letter headers (ours) are always kept.
var tenantHeaders = map[string]bool{
	codecs.HeaderTenantID: true, codecs.HeaderRegion: true, codecs.HeaderMajorVersion: true, codecs.HeaderMinorVersion: true,
}

// ours are the dead-letter headers this package writes, bounded by their codecs. An original
// header of another x-atlas-dlq- name is not ours.
var ours = map[string]bool{
	codecs.HeaderDLQTopic: true, codecs.HeaderDLQPartition: true, codecs.HeaderDLQOffset: true,
	codecs.HeaderDLQGroup: true, codecs.HeaderDLQReason: true,
	codecs.HeaderDLQOriginalLength: true, codecs.HeaderDLQOriginalSHA256: true, codecs.HeaderDLQDroppedHeaders: true,
}

// maxKeptHeader bounds a kept tenant header (name and value); maxDroppedList bounds the
// header that names the dropped ones.
const (
	maxKeptHeader  = 256
	maxDroppedList = 512
)

// Fit makes a dead letter fit limit. A record that fits is returned as is. Otherwise the value
// is cut and the original's length and SHA-256 are added; if the headers alone are still too
// large, the original headers other than a small tenant are dropped (largest first) and named;
// a key that is still too large is cut last. cut reports whether anything changed.
func Fit(limit int, key string, value []byte, h goka.Headers) (string, []byte, goka.Headers, bool) {
	if recordsize.Fits(limit, key, value, h) {
		return key, value, h, false
	}
	sum := sha256.Sum256(value)
	out := make(goka.Headers, len(h)+3)
	for k, v := range h {
		out[k] = v
	}
	delete(out, codecs.HeaderDLQDroppedHeaders) // only this function writes it
	out[codecs.HeaderDLQOriginalLength] = []byte(strconv.Itoa(len(value)))
	out[codecs.HeaderDLQOriginalSHA256] = []byte(hex.EncodeToString(sum[:]))
	if room := limit - recordsize.Of(key, nil, out); room >= 0 {
		return key, value[:min(room, len(value))], out, true
	}
	var optional []string
	for k, v := range out {
		if !ours[k] && !(tenantHeaders[k] && len(k)+len(v) <= maxKeptHeader) {
			optional = append(optional, k)
		}
	}
	sort.Slice(optional, func(i, j int) bool {
		return len(out[optional[i]])+len(optional[i]) > len(out[optional[j]])+len(optional[j])
	})
	var dropped []string
	for _, k := range optional {
		if recordsize.Of(key, nil, out) <= limit {
			break
		}
		delete(out, k)
		dropped = append(dropped, k)
		list := strings.Join(dropped, ",")
		if len(list) > maxDroppedList {
			list = list[:maxDroppedList]
		}
		out[codecs.HeaderDLQDroppedHeaders] = []byte(list)
	}
	room := limit - recordsize.Of(key, nil, out)
	if room < 0 {
		key = key[:max(0, len(key)+room)]
		room = 0
	}
	return key, value[:min(room, len(value))], out, true
}
