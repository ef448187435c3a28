package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/deadletter/replay"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runDLQ reads the dead-letter topic: list its records, show one, or replay chosen ones to
// the topic they came from.
func runDLQ(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("usage: atlas dlq list|show|replay [flags] (atlas help dlq lists them)")}
	}
	verb := args[0]
	if helpAsked(args[:1]) {
		verb = "list|show|replay" // atlas help dlq: the flags of every verb
	} else {
		args = args[1:]
	}
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
	case "list", "show", "replay", "list|show|replay":
	default:
		return usageError{fmt.Errorf("unknown verb %q: want list, show or replay", verb)}
	}
	if err := parseFlags(fs, "dlq", args); err != nil {
		return usageError{err}
	}
	cl, err := kafkaClient(*brokers, topicread.ReaderOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, *wait+time.Minute)
	defer cancel()
	rd := replay.Reader{Client: cl, Topic: string(atlas.DeadLetterTopic), Wait: *wait}
	switch verb {
	case "list":
		n := 0
		enc := json.NewEncoder(os.Stdout)
		return rd.Each(ctx, replay.Filter{Topic: *topic, Reason: *reason}, func(e replay.Entry, _ *kgo.Record) bool {
			_ = enc.Encode(e)
			n++
			return *count == 0 || n < *count
		})
	case "show", "replay":
		want, err := parsePositions(*at)
		if err != nil {
			return usageError{err}
		}
		found, err := rd.Find(ctx, want...)
		if err != nil {
			return err
		}
		for _, p := range want {
			r := found[p]
			if verb == "show" {
				_ = json.NewEncoder(os.Stdout).Encode(topicread.Describe(r, nil))
				continue
			}
			res, err := replay.Replay(ctx, cl, r)
			if err != nil {
				return fmt.Errorf("replay %s: %w", p, err)
			}
			fmt.Printf("replayed %s of %s to %s partition %d offset %d\n", p, r.Topic, res.Topic, res.Partition, res.Offset)
		}
	}
	return nil
}

// parsePositions reads --at: partition/offset positions separated by commas, each once, in
// the order given.
func parsePositions(text string) ([]replay.Position, error) {
	if text == "" {
		return nil, errors.New("--at partition/offset is required")
	}
	var out []replay.Position
	seen := map[replay.Position]bool{}
	for _, item := range strings.Split(text, ",") {
		p, err := replay.ParsePosition(item)
		if err != nil {
			return nil, fmt.Errorf("--at %w", err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}
