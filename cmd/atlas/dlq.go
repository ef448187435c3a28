package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runDLQ reads the dead-letter topic: list its records, show one, or replay chosen ones to
// the topic they came from.
func runDLQ(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{errors.New("usage: atlas dlq list|show|replay [flags] (atlas dlq <verb> -h lists them)")}
	}
	verb, args := args[0], args[1:]
	fs := newFlagSet("atlas dlq " + verb)
	brokers := brokersFlag(fs)
	var (
		topic  = fs.String("topic", "", "list: only dead letters from this topic")
		reason = fs.String("reason", "", "list: only dead letters whose reason contains this text")
		count  = fs.Int("count", 0, "list: at most this many (0: all)")
		at     = fs.String("at", "", "show, replay: the dead letter as partition/offset, e.g. 3/1041 (replay: comma-separated)")
		wait   = fs.Duration("timeout", 15*time.Second, "how long to wait for the brokers")
	)
	switch verb {
	case "list", "show", "replay":
	default:
		return usageError{fmt.Errorf("unknown verb %q: want list, show or replay", verb)}
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	dlq := string(atlas.DeadLetterTopic)
	cl, err := kafkaClient(*brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, *wait+time.Minute)
	defer cancel()
	ends, err := endOffsets(ctx, cl, dlq, *wait)
	if err != nil {
		return err
	}
	switch verb {
	case "list":
		n := 0
		return readTopic(ctx, cl, dlq, ends, func(r *kgo.Record) bool {
			d, line := dlqLine(r)
			if (*topic == "" || d.Topic == *topic) && strings.Contains(d.Reason, *reason) {
				_ = json.NewEncoder(os.Stdout).Encode(line)
				n++
			}
			return *count == 0 || n < *count
		})
	case "show", "replay":
		want, err := parsePositions(*at)
		if err != nil {
			return usageError{err}
		}
		found := map[string]*kgo.Record{}
		err = readTopic(ctx, cl, dlq, ends, func(r *kgo.Record) bool {
			if k := position(r.Partition, r.Offset); want[k] {
				found[k] = r
			}
			return len(found) < len(want)
		})
		if err != nil {
			return err
		}
		for k := range want {
			if found[k] == nil {
				return fmt.Errorf("no dead letter at %s of %s", k, dlq)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			r := found[k]
			if verb == "show" {
				_ = json.NewEncoder(os.Stdout).Encode(describeRecord(r, nil))
				continue
			}
			if err := replay(ctx, cl, r); err != nil {
				return fmt.Errorf("replay %s: %w", k, err)
			}
		}
	}
	return nil
}

// dlqEntry is a listed dead letter: where it is, where it came from and why.
type dlqEntry struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Topic     string    `json:"topic"`
	From      string    `json:"from"` // original partition/offset
	Group     string    `json:"group"`
	Reason    string    `json:"reason"`
	Key       string    `json:"key"`
	Cut       bool      `json:"cut,omitempty"` // the value was cut to fit: it cannot be replayed
}

func dlqLine(r *kgo.Record) (codecs.DeadLetter, dlqEntry) {
	h := headerMap(r.Headers)
	d, err := codecs.DeadLetterFromHeaders(h)
	e := dlqEntry{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Topic: d.Topic, Group: d.Group,
		Reason: d.Reason, From: position(d.Partition, d.Offset), Key: describeRecord(r, nil).Key}
	if err != nil {
		e.Reason = "(not a dead-letter record: " + err.Error() + ")"
	}
	_, e.Cut = h[codecs.HeaderDLQOriginalLength]
	return d, e
}

// replay writes a dead letter back to the topic it came from, with its key and its original
// headers (the dead-letter ones removed). A dead-lettered message never took effect, so one
// replay applies it once; each replay is a new message to its consumers.
func replay(ctx context.Context, cl *kgo.Client, r *kgo.Record) error {
	h := headerMap(r.Headers)
	d, err := codecs.DeadLetterFromHeaders(h)
	if err != nil {
		return err
	}
	if _, cut := h[codecs.HeaderDLQOriginalLength]; cut {
		return errors.New("its value was cut to fit the dead-letter topic; the original is gone")
	}
	out := &kgo.Record{Topic: d.Topic, Key: r.Key, Value: r.Value}
	for _, x := range r.Headers {
		if !strings.HasPrefix(x.Key, "x-atlas-dlq-") {
			out.Headers = append(out.Headers, x)
		}
	}
	if err := cl.ProduceSync(ctx, out).FirstErr(); err != nil {
		return err
	}
	fmt.Printf("replayed %s of %s to %s partition %d offset %d\n", position(r.Partition, r.Offset), r.Topic, out.Topic, out.Partition, out.Offset)
	return nil
}

func position(partition int32, offset int64) string { return fmt.Sprintf("%d/%d", partition, offset) }

func parsePositions(text string) (map[string]bool, error) {
	if text == "" {
		return nil, errors.New("--at partition/offset is required")
	}
	out := map[string]bool{}
	for _, p := range strings.Split(text, ",") {
		part, off, ok := strings.Cut(strings.TrimSpace(p), "/")
		pn, err1 := strconv.ParseInt(part, 10, 32)
		on, err2 := strconv.ParseInt(off, 10, 64)
		if !ok || err1 != nil || err2 != nil || pn < 0 || on < 0 {
			return nil, fmt.Errorf("--at %q: want partition/offset, e.g. 3/1041", p)
		}
		out[position(int32(pn), on)] = true
	}
	return out, nil
}

func headerMap(hs []kgo.RecordHeader) map[string][]byte {
	m := make(map[string][]byte, len(hs))
	for _, h := range hs {
		m[h.Key] = h.Value
	}
	return m
}

// endOffsets are the offsets after the last record of each partition of topic, now: an
// unknown topic or brokers that do not answer within wait are errors.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, wait time.Duration) (map[int32]int64, error) {
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
		lp.Partition, lp.Timestamp = p.Partition, -1 // -1: the end
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	return ends, nil
}

// readTopic reads every partition of topic from its start to ends, calling f for each record
// until f returns false.
func readTopic(ctx context.Context, cl *kgo.Client, topic string, ends map[int32]int64, f func(*kgo.Record) bool) error {
	pending := map[int32]bool{}
	offsets := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			pending[p] = true
			offsets[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(pending) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w", topic, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		more := true
		fs.EachRecord(func(r *kgo.Record) {
			if !more || !pending[r.Partition] {
				return
			}
			more = f(r)
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
