package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokersFlag defaults to KAFKA_BROKERS, else the address `atlas dev` listens on.
func brokersFlag(fs *flag.FlagSet) *string {
	return fs.String("brokers", envOr("KAFKA_BROKERS", envOr("ATLAS_KAFKA_LISTEN", "127.0.0.1:9092")), "comma-separated brokers (env KAFKA_BROKERS)")
}

// kafkaClient is a client of brokers (comma-separated) with the security the environment
// configures (KAFKA_TLS_*, KAFKA_SASL_*), as the services have it.
func kafkaClient(brokers string, opts ...kgo.Opt) (*kgo.Client, error) {
	o, err := runtime.OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(o.KafkaClientOpts(runtime.ParseBrokers(brokers)...), opts...)...)
}

// resolveTopic accepts a catalog env name (resolved as the services resolve it) or a topic.
func resolveTopic(name string) (topic string, cat *codecs.CatalogTopic) {
	if c, ok := codecs.LookupCatalogTopic(name); ok {
		return string(atlas.TopicFromEnv(name)), c
	}
	for _, c := range codecs.CatalogTopicList() {
		if string(atlas.TopicFromEnv(c.Name)) == name {
			return name, c
		}
	}
	return name, nil
}

// runEmit sends one message with tenant headers. A catalog topic's message is decoded first,
// so that an operator cannot put a message on a public topic that its consumers would refuse.
func runEmit(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas emit")
	brokers := brokersFlag(fs)
	topicName := fs.String("topic", "", "topic or catalog env name, e.g. COMMAND_TOPIC_CREATE_ACCOUNT (required)")
	tenantID := fs.String("tenant", "", "TENANT_ID uuid (required)")
	region := fs.String("region", "GMS", "REGION")
	major := fs.Uint("major", 83, "MAJOR_VERSION")
	minor := fs.Uint("minor", 1, "MINOR_VERSION")
	keyText := fs.String("key", "", "key as a uint32 id (8-byte form); default: the catalog's key field of the message, else 0")
	var extra headerFlags
	fs.Var(&extra, "header", "an extra header as key=value, repeatable (e.g. traceparent=00-...); replaces a tenant or trace header of that name")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: atlas emit -topic T -tenant UUID [flags] 'JSON' (or JSON on standard input)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "emit", args); err != nil {
		return usageError{err}
	}
	if *topicName == "" || *tenantID == "" {
		fs.Usage()
		return errors.New("-topic and -tenant are required")
	}
	id, err := uuid.Parse(*tenantID)
	if err != nil {
		return fmt.Errorf("-tenant: %w", err)
	}
	if *major > 65535 || *minor > 65535 {
		return errors.New("-major and -minor are 16-bit")
	}
	tenant := codecs.Tenant{ID: id, Region: *region, Major: uint16(*major), Minor: uint16(*minor)}
	var value []byte
	if fs.NArg() > 0 {
		value = []byte(strings.Join(fs.Args(), " "))
	} else if value, err = io.ReadAll(os.Stdin); err != nil {
		return err
	}
	topic, cat := resolveTopic(*topicName)
	if !json.Valid(value) {
		return errors.New("the message is not valid JSON")
	}
	var keyID uint64
	switch {
	case *keyText != "":
		if keyID, err = strconv.ParseUint(*keyText, 10, 32); err != nil {
			return fmt.Errorf("-key: %w", err)
		}
	case cat != nil:
		if keyID, err = keyFromMessage(cat, value); err != nil {
			return err
		}
	}
	if cat != nil {
		if _, err := cat.Decode(value); err != nil {
			return fmt.Errorf("not a valid %s message: %w", cat.Name, err)
		}
		if why := ignoredBecause(cat, value); why != "" {
			fmt.Fprintf(os.Stderr, "atlas emit: warning: %s\n", why)
		}
	}
	cl, err := kafkaClient(*brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: topic, Key: []byte(codecs.IDKey(uint32(keyID))), Value: value}
	for k, v := range tenant.Headers() {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	tr := codecs.NewTrace()
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: codecs.HeaderTraceParent, Value: []byte(tr.ParentString())})
	for _, h := range extra {
		rec.Headers = slices.DeleteFunc(rec.Headers, func(x kgo.RecordHeader) bool { return x.Key == h.Key })
		rec.Headers = append(rec.Headers, h)
		if h.Key == codecs.HeaderTraceParent {
			if given, err := codecs.ParseTraceParent(string(h.Value)); err == nil {
				tr = given
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	fmt.Printf("sent to %s partition %d offset %d, trace %s\n", topic, rec.Partition, rec.Offset, tr.TraceIDString())
	return nil
}

// headerFlags are repeated --header key=value flags.
type headerFlags []kgo.RecordHeader

func (h *headerFlags) String() string { return fmt.Sprint(len(*h), " headers") }

func (h *headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want key=value", v)
	}
	*h = append(*h, kgo.RecordHeader{Key: k, Value: []byte(val)})
	return nil
}

// ignoredBecause says why the product's consumers will do nothing with a valid message of
// cat ("" when they act on it): no service of the product reads the topic, or the type's
// route is none, or only later upstream producers write it.
func ignoredBecause(cat *codecs.CatalogTopic, value []byte) string {
	consumed := false
	for _, u := range cat.Uses {
		consumed = consumed || u.Direction != "produced"
	}
	if !consumed {
		return fmt.Sprintf("no service of this product reads %s (it only writes it)", cat.Name)
	}
	if cat.Discriminator == "" {
		return ""
	}
	var top map[string]json.RawMessage
	var typ string
	if json.Unmarshal(value, &top) != nil || json.Unmarshal(top[cat.Discriminator], &typ) != nil {
		return ""
	}
	ct, ok := cat.Type(typ)
	switch {
	case !ok:
		return ""
	case ct.Route == "none":
		return fmt.Sprintf("the channel ignores %s %s (its route is none)", cat.Name, typ)
	}
	return ""
}

// keyFromMessage reads the catalog's key field ("characterId", "body.characterId") of a message.
func keyFromMessage(cat *codecs.CatalogTopic, value []byte) (uint64, error) {
	if cat.KeyField == "" {
		return 0, nil
	}
	var cur any
	if err := json.Unmarshal(value, &cur); err != nil {
		return 0, err
	}
	for _, part := range strings.Split(cat.KeyField, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("key field %s not found in the message", cat.KeyField)
		}
		cur = obj[part]
	}
	n, ok := cur.(float64)
	if !ok || n < 0 || n > 1<<32-1 {
		return 0, fmt.Errorf("key field %s is not a uint32 (give -key)", cat.KeyField)
	}
	return uint64(n), nil
}

// runTail prints a topic's messages as JSON lines: value as JSON when it is, headers
// decoded (tenant versions as numbers), and a decoding error when a catalog message is not
// valid for its topic. Without --follow it stops at the end the topic had when it started.
func runTail(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas tail")
	brokers := brokersFlag(fs)
	topicName := fs.String("topic", "", "topic or catalog env name (required)")
	from := fs.String("from", "oldest", "where to start: oldest, newest, an offset (with --partition), or an RFC3339 time")
	follow := fs.Bool("follow", false, "keep waiting for new messages after the end")
	count := fs.Int("count", 0, "stop after this many messages (0: no limit)")
	partition := fs.Int("partition", -1, "read only this partition (-1: all)")
	idle := fs.Duration("idle", 0, "with --follow: stop after this long without a message (0: never)")
	fromStart := fs.Bool("from-beginning", true, "(old name) false is --from newest")
	max := fs.Int("max", 0, "(old name of --count)")
	if err := parseFlags(fs, "tail", args); err != nil {
		return usageError{err}
	}
	if *topicName == "" {
		return usageError{errors.New("--topic is required")}
	}
	if *max > 0 && *count == 0 {
		*count = *max
	}
	if !*fromStart && *from == "oldest" {
		*from = "newest"
	}
	if *idle > 0 {
		*follow = true // an idle limit only means something while following
	}
	topic, cat := resolveTopic(*topicName)
	cl, err := kafkaClient(*brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	// An unknown topic or brokers that do not answer are errors, not an empty tail.
	ends, err := topicread.EndOffsets(ctx, cl, topic, 15*time.Second)
	if err != nil {
		return err
	}
	start, err := startOffset(*from, *partition)
	if err != nil {
		return usageError{err}
	}
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]bool{} // partitions not read to their end yet
	for p, end := range ends {
		if *partition >= 0 && p != int32(*partition) {
			continue
		}
		offsets[p] = start
		if end > 0 {
			pending[p] = true
		}
	}
	if len(offsets) == 0 {
		return fmt.Errorf("topic %s has no partition %d", topic, *partition)
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	enc := json.NewEncoder(os.Stdout)
	seen := 0
	for {
		if !*follow && len(pending) == 0 {
			return nil
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		switch {
		case *idle > 0:
			pollCtx, cancel = context.WithTimeout(ctx, *idle)
		case !*follow:
			// Reading to the end: a partition whose start is past its end (newest, a late
			// time) yields nothing, so the end is also reached by a quiet second.
			pollCtx, cancel = context.WithTimeout(ctx, time.Second)
		}
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if pollCtx.Err() != nil && fetches.NumRecords() == 0 {
			if *follow && *idle == 0 {
				continue
			}
			return nil
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				return fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= ends[r.Partition] {
				delete(pending, r.Partition)
			}
			if werr != nil || (*count > 0 && seen >= *count) || !*follow && r.Offset >= ends[r.Partition] {
				return
			}
			werr = enc.Encode(topicread.Describe(r, cat))
			seen++
		})
		if werr != nil {
			return werr
		}
		if *count > 0 && seen >= *count {
			return nil
		}
	}
}

// startOffset reads --from: oldest, newest, an offset (of the one --partition) or a time.
func startOffset(from string, partition int) (kgo.Offset, error) {
	switch from {
	case "oldest", "":
		return kgo.NewOffset().AtStart(), nil
	case "newest":
		return kgo.NewOffset().AtEnd(), nil
	}
	if n, err := strconv.ParseInt(from, 10, 64); err == nil {
		if partition < 0 || n < 0 {
			return kgo.Offset{}, errors.New("--from OFFSET needs --partition (offsets are per partition)")
		}
		return kgo.NewOffset().At(n), nil
	}
	t, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return kgo.Offset{}, fmt.Errorf("--from %q: want oldest, newest, an offset or an RFC3339 time", from)
	}
	return kgo.NewOffset().AfterMilli(t.UnixMilli()), nil
}
