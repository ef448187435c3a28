package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
)

// TopicSpec is a topic the product needs: how many partitions, and whether it is a table
// (log-compacted).
type TopicSpec struct {
	Name       string
	Partitions int
	Compacted  bool
}

// Streams and Tables build specs with the options' partition count.
func (o Options) Streams(names ...goka.Stream) []TopicSpec {
	out := make([]TopicSpec, len(names))
	for i, n := range names {
		out[i] = TopicSpec{Name: string(n), Partitions: o.Partitions}
	}
	return out
}

// Tables builds compacted specs for group tables.
func (o Options) Tables(names ...goka.Table) []TopicSpec {
	out := make([]TopicSpec, len(names))
	for i, n := range names {
		out[i] = TopicSpec{Name: string(n), Partitions: o.Partitions, Compacted: true}
	}
	return out
}

// Mismatch is a difference between a topic as needed and as it is on the cluster.
type Mismatch struct {
	Topic string
	What  string
}

func (m Mismatch) String() string { return m.Topic + ": " + m.What }

// EnsureTopics creates the missing topics and reports, without changing them, the existing
// ones whose partition count or cleanup policy differ from the spec.
func (o Options) EnsureTopics(specs []TopicSpec) ([]Mismatch, error) {
	admin, err := o.clusterAdmin()
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	existing, err := admin.ListTopics()
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var mismatches []Mismatch
	var missing []TopicSpec
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		if d, ok := existing[s.Name]; ok {
			mismatches = append(mismatches, compare(admin, s, d)...)
		} else {
			missing = append(missing, s)
		}
	}
	// Creating a hundred topics on a real cluster takes a while: say what is happening.
	start, last := time.Now(), time.Now()
	if len(missing) > 0 {
		logrus.WithFields(logrus.Fields{"create": len(missing), "existing": len(seen) - len(missing)}).Info("creating topics")
	}
	for i, s := range missing {
		if err := o.createTopic(admin, s); err != nil {
			return mismatches, err
		}
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			logrus.WithFields(logrus.Fields{"created": i + 1, "of": len(missing)}).Info("creating topics")
		}
	}
	if len(missing) > 0 {
		logrus.WithFields(logrus.Fields{"created": len(missing), "took": time.Since(start).Round(time.Millisecond).String()}).Info("topics created")
	}
	sort.Slice(mismatches, func(i, j int) bool { return mismatches[i].Topic < mismatches[j].Topic })
	return mismatches, nil
}

// clusterAdmin connects an admin client of this process to the brokers.
func (o Options) clusterAdmin() (sarama.ClusterAdmin, error) {
	cfg := o.Sarama(sarama.OffsetOldest)
	cfg.ClientID = o.ClientID + "-admin"
	admin, err := sarama.NewClusterAdmin(o.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %v: %w", o.Brokers, err)
	}
	return admin, nil
}

func (o Options) createTopic(admin sarama.ClusterAdmin, s TopicSpec) error {
	cleanup := "delete"
	if s.Compacted {
		cleanup = "compact"
	}
	entries := map[string]*string{"cleanup.policy": &cleanup}
	if n := MinInSync(o.Replication); n > 0 {
		v := strconv.Itoa(n)
		entries["min.insync.replicas"] = &v
	}
	err := admin.CreateTopic(s.Name, &sarama.TopicDetail{
		NumPartitions:     int32(s.Partitions),
		ReplicationFactor: int16(o.Replication),
		ConfigEntries:     entries,
	}, false)
	var te *sarama.TopicError
	if errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists {
		return nil // another process created it a moment ago
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", s.Name, err)
	}
	return waitForTopic(admin, s.Name)
}

// MinInSync is the min.insync.replicas the product's topics are created with: a majority of
// the replicas from three on (3 -> 2, 5 -> 3), so that with acks=all a write survives the loss
// of any node and one node down stops nothing. Below three replicas it is left to the broker
// (0): with two, needing both would stop writes at the first failure. Clusters default to 1,
// which lets a lone leader acknowledge a write that its failure then loses.
func MinInSync(replication int) int {
	if replication < 3 {
		return 0
	}
	return replication/2 + 1
}

// waitForTopic waits until the topic's metadata is visible, so a processor started right
// after does not find it missing.
func waitForTopic(admin sarama.ClusterAdmin, name string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := admin.DescribeTopics([]string{name})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s not visible 10s after creation", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// compare reports how topic d, as listed, differs from spec s.
func compare(admin sarama.ClusterAdmin, s TopicSpec, d sarama.TopicDetail) []Mismatch {
	var out []Mismatch
	if int(d.NumPartitions) != s.Partitions {
		out = append(out, Mismatch{s.Name, "has " + strconv.Itoa(int(d.NumPartitions)) + " partitions, want " + strconv.Itoa(s.Partitions)})
	}
	if !s.Compacted {
		return out
	}
	policy, err := cleanupPolicy(admin, s.Name, d)
	if err != nil {
		return append(out, Mismatch{s.Name, "cleanup.policy unknown (" + err.Error() + "), want compact (a table)"})
	}
	if !compacts(policy) {
		out = append(out, Mismatch{s.Name, "cleanup.policy is " + policy + ", want compact (a table)"})
	}
	return out
}

// cleanupPolicy is the topic's cleanup.policy. ListTopics keeps only the entries that are not
// the broker's built-in default, and drops a topic's entries without a word when describing
// its configs failed (no permission, or the topic going away): a missing entry is asked for
// once more, on its own, where a failure shows and the default comes with its value.
func cleanupPolicy(admin sarama.ClusterAdmin, topic string, d sarama.TopicDetail) (string, error) {
	if p, ok := d.ConfigEntries["cleanup.policy"]; ok && p != nil {
		return *p, nil
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{
		Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"cleanup.policy"},
	})
	if err != nil {
		return "", fmt.Errorf("describe configs: %w", err)
	}
	for _, e := range entries {
		if e.Name == "cleanup.policy" {
			return e.Value, nil
		}
	}
	return "delete", nil // Kafka's default, for a broker that leaves it out
}

// compacts tells whether a cleanup.policy compacts the log: "compact", or "compact,delete"
// (compaction, and deletion of segments past the retention) in any order and spacing.
func compacts(policy string) bool {
	for _, p := range strings.Split(policy, ",") {
		if strings.TrimSpace(p) == "compact" {
			return true
		}
	}
	return false
}

// LearnRecordLimit is the largest record every topic of specs accepts: the smallest
// max.message.bytes among them (a topic without its own value reports the broker's
// message.max.bytes). One DescribeConfigs request asks for all of them, so start-up pays one
// round trip however many topics a service writes. The result is logged, so an operator who
// lowered a topic's limit sees what the product will do.
func (o Options) LearnRecordLimit(specs []TopicSpec) (int, error) {
	admin, err := o.clusterAdmin()
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	broker, err := admin.Controller()
	if err != nil {
		return 0, fmt.Errorf("find a broker to describe configs: %w", err)
	}
	req := &sarama.DescribeConfigsRequest{Version: 2}
	seen := map[string]bool{}
	for _, s := range specs {
		if !seen[s.Name] {
			seen[s.Name] = true
			req.Resources = append(req.Resources, &sarama.ConfigResource{
				Type: sarama.TopicResource, Name: s.Name, ConfigNames: []string{"max.message.bytes"},
			})
		}
	}
	resp, err := broker.DescribeConfigs(req)
	if err != nil {
		return 0, fmt.Errorf("describe max.message.bytes: %w", err)
	}
	limit, from := 0, ""
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			return 0, fmt.Errorf("describe max.message.bytes of %s: %w: %s", r.Name, sarama.KError(r.ErrorCode), r.ErrorMsg)
		}
		for _, e := range r.Configs {
			if e.Name != "max.message.bytes" {
				continue
			}
			n, err := strconv.Atoi(e.Value)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("topic %s has max.message.bytes %q", r.Name, e.Value)
			}
			if limit == 0 || n < limit {
				limit, from = n, r.Name
			}
		}
	}
	if limit == 0 {
		return recordsize.Default, nil
	}
	logrus.WithFields(logrus.Fields{"max_record_bytes": limit, "smallest_on": from}).Info("record size limit learned from the cluster")
	return limit, nil
}

// WithRecordLimit returns o with MaxRecordBytes learned from the topics a service writes
// (specs), unless it is already set. A cluster that refuses to describe configs (no
// DescribeConfigs permission) leaves recordsize.Default, with a warning: that is no reason
// not to start.
func (o Options) WithRecordLimit(specs []TopicSpec) Options {
	if o.MaxRecordBytes > 0 {
		return o
	}
	n, err := o.LearnRecordLimit(specs)
	if err != nil {
		logrus.WithError(err).WithField("max_record_bytes", recordsize.Default).Warn("record size limit not learned; using the default")
		n = recordsize.Default
	}
	// The producers write batches of at most maxBatchBytes and buffer at most
	// maxBufferedBytes: a larger record could never be written, so the stages' own size
	// checks refuse it first.
	o.MaxRecordBytes = min(n, maxBatchBytes, maxBufferedBytes)
	return o
}
