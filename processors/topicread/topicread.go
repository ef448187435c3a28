// Package topicread reads a topic as it is now, outside any consumer group: its end offsets,
// its records from the start up to those ends, and a printable description of a record. The
// operator tools (`atlas tail`, `atlas lag`, `atlas dlq`) and the console's dead-letter page
// read topics this way, so that looking never moves a group's offsets.
package topicread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndOffsets are the offsets after the last record of each partition of topic, now: an
// unknown topic or brokers that do not answer within wait are errors.
func EndOffsets(ctx context.Context, cl *kgo.Client, topic string, wait time.Duration) (map[int32]int64, error) {
	return listOffsets(ctx, cl, topic, wait, -1)
}

// StartOffsets are the first offsets still held of each partition of topic.
func StartOffsets(ctx context.Context, cl *kgo.Client, topic string, wait time.Duration) (map[int32]int64, error) {
	return listOffsets(ctx, cl, topic, wait, -2)
}

// listOffsets asks for each partition's offset at timestamp (-1: the end, -2: the start).
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, wait time.Duration, timestamp int64) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.AllowAutoTopicCreation = false // a typo must not create a topic on a cluster that would
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("brokers not reachable: %w", err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("no metadata for topic %s", topic)
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p.Partition, timestamp
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("offset of %s/%d: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// ReaderOpts are the client options Read needs: transaction markers delivered, so that a
// partition whose last offset is a marker is seen to end (Read skips them).
func ReaderOpts() []kgo.Opt { return []kgo.Opt{kgo.KeepControlRecords()} }

// quiet is how long Read waits for a record before it takes the partitions still pending to
// have nothing more: a fetch answers as soon as a record is there, so a quiet spell means the
// rest of the range is a gap (records removed by retention or compaction meanwhile).
const quiet = 5 * time.Second

// Read reads the partitions of topic named in from, each from its offset there up to its
// offset in ends, calling f for each record until f returns false. cl must be a client
// without consumed topics of its own, made with ReaderOpts (Read adds the partitions it
// reads and removes them when done).
func Read(ctx context.Context, cl *kgo.Client, topic string, from, ends map[int32]int64, f func(*kgo.Record) bool) error {
	pending := map[int32]bool{}
	offsets := map[int32]kgo.Offset{}
	for p, start := range from {
		if ends[p] > start {
			pending[p] = true
			offsets[p] = kgo.NewOffset().At(start)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	defer cl.RemoveConsumePartitions(map[string][]int32{topic: keys(offsets)})
	for len(pending) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, quiet)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w", topic, ctx.Err())
		}
		if pollCtx.Err() != nil && fs.NumRecords() == 0 {
			return nil // quiet: nothing more in the range
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			return fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		more := true
		fs.EachRecord(func(r *kgo.Record) {
			if !more || !pending[r.Partition] {
				return
			}
			if r.Offset < ends[r.Partition] && !r.Attrs.IsControl() {
				more = f(r)
			}
			if r.Offset+1 >= ends[r.Partition] {
				delete(pending, r.Partition)
			}
		})
		if !more {
			return nil
		}
	}
	return nil
}

func keys(m map[int32]kgo.Offset) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Line is a record as the tools print it.
type Line struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       string            `json:"key"`
	Headers   map[string]string `json:"headers,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	ValueB64  []byte            `json:"valueBase64,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// Describe is r as a Line: an 8-byte id key as its id, tenant versions as numbers, the value
// as JSON when it is (else base64), and, when cat is the record's catalog topic, why its
// consumers would refuse the value.
func Describe(r *kgo.Record, cat *codecs.CatalogTopic) Line {
	l := Line{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: KeyText(r.Key), Headers: map[string]string{}}
	for _, h := range r.Headers {
		switch h.Key {
		case codecs.HeaderMajorVersion, codecs.HeaderMinorVersion:
			if len(h.Value) == 2 {
				l.Headers[h.Key] = strconv.Itoa(int(h.Value[0])<<8 | int(h.Value[1]))
				continue
			}
		}
		l.Headers[h.Key] = string(h.Value)
	}
	if json.Valid(r.Value) {
		l.Value = r.Value
	} else {
		l.ValueB64 = r.Value
	}
	if cat != nil {
		if _, err := cat.Decode(r.Value); err != nil {
			l.Error = err.Error()
		}
	}
	return l
}

// KeyText is a key as people read it: an 8-byte id key as its decimal id, any other as text.
func KeyText(key []byte) string {
	if id, err := codecs.ParseIDKey(key); err == nil {
		return strconv.FormatUint(uint64(id), 10)
	}
	return string(key)
}

// HeaderMap is the record's headers by key (the last of a repeated key wins).
func HeaderMap(hs []kgo.RecordHeader) map[string][]byte {
	m := make(map[string][]byte, len(hs))
	for _, h := range hs {
		m[h.Key] = h.Value
	}
	return m
}
