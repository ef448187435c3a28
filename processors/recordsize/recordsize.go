// Package recordsize knows how large a Kafka record may be where a processor writes it, and
// how large a record is. A record over the broker's limit is refused by the broker (or by
// the producer before it); inside a Goka callback that refusal stops the processor, which restarts,
// consumes the same command, and fails again. Callbacks therefore check before they emit and
// answer the command another way (see processors/deadletter and the account stages).
package recordsize

import (
	"context"

	"github.com/lovoo/goka"
)

// Default is the limit where none was learned: below Kafka's default message.max.bytes
// (1048588), with room for a batch's own bytes.
const Default = 1_000_000

// batchOverhead is a v2 record batch header; recordOverhead bounds the varints and the
// attribute byte of one record in it (length, attributes, timestamp and offset deltas, key
// and value lengths, header count); headerOverhead bounds a header's two length varints.
// Every record the product writes is measured as if alone in its batch, the broker's worst
// case for it.
const (
	batchOverhead  = 61
	recordOverhead = 1 + 5 + 10 + 5 + 5 + 5 + 5
	headerOverhead = 5 + 5
)

// Of is an upper bound of the bytes the broker counts for a record written alone.
func Of(key string, value []byte, h goka.Headers) int {
	return WithHeaderBytes(key, value, HeaderBytes(h))
}

// HeaderBytes is what headers h add to a record (Of is WithHeaderBytes of it).
func HeaderBytes(h goka.Headers) int {
	n := 0
	for k, v := range h {
		n += Header(k, v)
	}
	return n
}

// Header is what one header adds to a record.
func Header(key string, value []byte) int { return headerOverhead + len(key) + len(value) }

// WithHeaderBytes is Of for a record whose headers add headerBytes: a writer that sends the same
// headers with many records sizes them once.
func WithHeaderBytes(key string, value []byte, headerBytes int) int {
	return batchOverhead + recordOverhead + len(key) + len(value) + headerBytes
}

// Fits tells whether the record is within limit.
func Fits(limit int, key string, value []byte, h goka.Headers) bool {
	return Of(key, value, h) <= limit
}

type limitKey struct{}

// WithLimit returns a context carrying the limit for the callbacks of a processor run with it
// (Goka hands the run context to every callback as ctx.Context()).
func WithLimit(ctx context.Context, limit int) context.Context {
	if limit <= 0 {
		return ctx
	}
	return context.WithValue(ctx, limitKey{}, limit)
}

// Limit is the limit carried by ctx, else Default.
func Limit(ctx context.Context) int {
	if ctx != nil {
		if n, ok := ctx.Value(limitKey{}).(int); ok {
			return n
		}
	}
	return Default
}
