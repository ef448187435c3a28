package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lagLine is one partition of one group: where the group is, where the topic ends, and the
// difference.
type lagLine struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: nothing committed yet
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
}

// runLag prints each consumer group's lag per partition: the messages a stuck or slow group
// has not processed yet.
func runLag(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas lag")
	brokers := brokersFlag(fs)
	groupFilter := fs.String("group", "", "only groups whose name contains this text")
	onlyLagging := fs.Bool("lagging", false, "only partitions with a lag")
	wait := fs.Duration("timeout", 15*time.Second, "how long to wait for the brokers")
	if err := parseFlags(fs, "lag", args); err != nil {
		return usageError{err}
	}
	cl, err := kafkaClient(*brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	groups, err := listGroups(ctx, cl)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	ends := map[string]map[int32]int64{}
	for _, g := range groups {
		if !strings.Contains(g, *groupFilter) {
			continue
		}
		committed, err := committedOffsets(ctx, cl, g)
		if err != nil {
			return fmt.Errorf("group %s: %w", g, err)
		}
		for _, topic := range slices.Sorted(maps.Keys(committed)) {
			if ends[topic] == nil {
				if ends[topic], err = topicread.EndOffsets(ctx, cl, topic, *wait); err != nil {
					return fmt.Errorf("group %s: %w", g, err)
				}
			}
			for _, p := range slices.Sorted(maps.Keys(ends[topic])) {
				c, ok := committed[topic][p]
				l := lagLine{Group: g, Topic: topic, Partition: p, Committed: -1, End: ends[topic][p], Lag: ends[topic][p]}
				if ok && c >= 0 {
					l.Committed, l.Lag = c, max(0, ends[topic][p]-c)
				}
				if *onlyLagging && l.Lag == 0 {
					continue
				}
				if err := enc.Encode(l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// listGroups names every consumer group of the cluster, sorted.
func listGroups(ctx context.Context, cl *kgo.Client) ([]string, error) {
	req := kmsg.NewPtrListGroupsRequest()
	shards := cl.RequestSharded(ctx, req)
	var out []string
	for _, s := range shards {
		if s.Err != nil {
			return nil, fmt.Errorf("brokers not reachable: %w", s.Err)
		}
		resp := s.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		for _, g := range resp.Groups {
			out = append(out, g.Group)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// committedOffsets are a group's committed offsets by topic and partition.
func committedOffsets(ctx context.Context, cl *kgo.Client, group string) (map[string]map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.Topics = nil // every topic the group committed
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
			}
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]int64{}
			}
			out[t.Topic][p.Partition] = p.Offset
		}
	}
	return out, nil
}
