package codecs

import (
	"fmt"
	"strconv"

	"github.com/lovoo/goka"
)

// Dead-letter convention, shared by every consumer of the product. A dead-lettered record keeps
// the original key, value bytes and headers untouched, so it can be inspected and replayed as it
// was; where it came from and why it was refused travel as extra headers with these names.
const (
	HeaderDLQTopic     = "x-atlas-dlq-topic"
	HeaderDLQPartition = "x-atlas-dlq-partition"
	HeaderDLQOffset    = "x-atlas-dlq-offset"
	HeaderDLQGroup     = "x-atlas-dlq-group"
	HeaderDLQReason    = "x-atlas-dlq-reason"
	// A record too large for the dead-letter topic is cut to fit; these say what it was: the
	// original value's length and its SHA-256 (hex), and which original headers were dropped.
	HeaderDLQOriginalLength = "x-atlas-dlq-original-length"
	HeaderDLQOriginalSHA256 = "x-atlas-dlq-original-sha256"
	HeaderDLQDroppedHeaders = "x-atlas-dlq-dropped-headers"
)

// ReasonOversize begins the reason of a command none of whose records could be written within
// the broker's record size limit.
const ReasonOversize = "oversize"

// maxReasonLen bounds the reason header; reasons quote input, and input may be huge.
const maxReasonLen = 1024

// DeadLetter describes why and from where a record was refused.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
	Group     string
	Reason    string
}

// Headers returns the original headers plus the dead-letter ones (the original map is not
// modified). An original header with a dead-letter name is overwritten: the record is ours now.
func (d DeadLetter) Headers(original goka.Headers) goka.Headers {
	h := make(goka.Headers, len(original)+5)
	for k, v := range original {
		h[k] = v
	}
	reason := d.Reason
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen] + "..."
	}
	h[HeaderDLQTopic] = []byte(d.Topic)
	h[HeaderDLQPartition] = []byte(strconv.FormatInt(int64(d.Partition), 10))
	h[HeaderDLQOffset] = []byte(strconv.FormatInt(d.Offset, 10))
	h[HeaderDLQGroup] = []byte(d.Group)
	h[HeaderDLQReason] = []byte(reason)
	return h
}

// DeadLetterFromHeaders reads the dead-letter headers back, for tools and tests.
func DeadLetterFromHeaders(h goka.Headers) (DeadLetter, error) {
	d := DeadLetter{
		Topic:  string(h[HeaderDLQTopic]),
		Group:  string(h[HeaderDLQGroup]),
		Reason: string(h[HeaderDLQReason]),
	}
	if d.Topic == "" || d.Reason == "" {
		return d, fmt.Errorf("not a dead-letter record: %s or %s missing", HeaderDLQTopic, HeaderDLQReason)
	}
	p, err := strconv.ParseInt(string(h[HeaderDLQPartition]), 10, 32)
	if err != nil {
		return d, fmt.Errorf("dead-letter partition: %w", err)
	}
	d.Partition = int32(p)
	if d.Offset, err = strconv.ParseInt(string(h[HeaderDLQOffset]), 10, 64); err != nil {
		return d, fmt.Errorf("dead-letter offset: %w", err)
	}
	return d, nil
}
