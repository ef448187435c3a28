package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicState is a topic as the broker describes it to a plain client.
type topicState struct {
	partitions int
	policy     string
}

// describeTopics asks the broker, without this project's code on the path, for the partition
// count and cleanup.policy of topics.
func describeTopics(t *testing.T, brokers []string, topics ...string) map[string]topicState {
	t.Helper()
	out, err := tryDescribeTopics(brokers, topics...)
	require.NoError(t, err)
	return out
}

func tryDescribeTopics(brokers []string, topics ...string) (map[string]topicState, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out := map[string]topicState{}
	md := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		md.Topics = append(md.Topics, rt)
	}
	mdResp, err := md.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, tp := range mdResp.Topics {
		if err := kerr.ErrorForCode(tp.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", *tp.Topic, err)
		}
		out[*tp.Topic] = topicState{partitions: len(tp.Partitions)}
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range topics {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = name
		r.ConfigNames = []string{"cleanup.policy"}
		dc.Resources = append(dc.Resources, r)
	}
	dcResp, err := dc.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, r := range dcResp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return nil, fmt.Errorf("configs of %s: %w", r.ResourceName, err)
		}
		st := out[r.ResourceName]
		for _, c := range r.Configs {
			if c.Name == "cleanup.policy" && c.Value != nil {
				st.policy = *c.Value
			}
		}
		out[r.ResourceName] = st
	}
	return out, nil
}

// createTopic creates a topic with a given cleanup.policy (empty: none given) behind
// EnsureTopics' back, as an operator or another tool would.
func createTopic(t *testing.T, brokers []string, name string, partitions int32, policy string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	if policy != "" { // else the broker's default
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "cleanup.policy", kmsg.StringPtr(policy)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].ErrorCode), "create %s", name)
	// Kafka answers CreateTopics when the controller has the topic; the broker's metadata can
	// lag a moment behind.
	var last error
	require.Eventually(t, func() bool {
		got, err := tryDescribeTopics(brokers, name)
		last = err
		return err == nil && got[name].partitions == int(partitions)
	}, 10*time.Second, 50*time.Millisecond, "topic %s visible: %v", name, last)
}

// The topics EnsureTopics creates have the shape the product relies on, on the broker in use
// (kfake, or the real Kafka of ATLAS_TEST_KAFKA_BROKERS): tables compacted, streams not, partitions as
// configured; and its mismatch report sees partitions and compaction as the broker has them.
func TestEnsureTopicsOnBroker(t *testing.T) {
	o := kafkatest.Broker(t, 3)
	stream, table := goka.Stream(kafkatest.Name("rtk-stream")), goka.GroupTable(goka.Group(kafkatest.Name("rtk-group")))
	specs := append(o.Streams(stream), o.Tables(table)...)

	mism, err := o.EnsureTopics(specs)
	require.NoError(t, err)
	require.Empty(t, mism, "topics it just created match")
	got := describeTopics(t, o.Brokers, string(stream), string(table))
	require.Equal(t, topicState{partitions: 3, policy: "delete"}, got[string(stream)], "a stream")
	require.Equal(t, topicState{partitions: 3, policy: "compact"}, got[string(table)], "a table")

	mism, err = o.EnsureTopics(specs)
	require.NoError(t, err)
	require.Empty(t, mism, "a second run finds everything in place")

	// The stream, wanted as a table of 5 partitions: both differences are reported, and the
	// topic is left as it is.
	mism, err = o.EnsureTopics([]runtime.TopicSpec{
		{Name: string(stream), Partitions: 5, Compacted: true},
		{Name: string(table), Partitions: 3, Compacted: true},
	})
	require.NoError(t, err)
	require.Len(t, mism, 2, "partitions and cleanup.policy of the stream: %v", mism)
	for _, m := range mism {
		require.Equal(t, string(stream), m.Topic, "%v", mism)
	}
	require.Contains(t, mism[0].What+mism[1].What, "partitions")
	require.Contains(t, mism[0].What+mism[1].What, "cleanup.policy")
	require.Equal(t, topicState{partitions: 3, policy: "delete"}, describeTopics(t, o.Brokers, string(stream))[string(stream)])

	// Tables made by someone else: "compact,delete" compacts too; "delete" does not, and
	// neither does the broker's default (which the broker lists as a default, not as the
	// topic's own setting).
	createTopic(t, o.Brokers, "rtk-compact-delete", 3, "compact,delete")
	createTopic(t, o.Brokers, "rtk-not-compacted", 3, "delete")
	createTopic(t, o.Brokers, "rtk-default-policy", 3, "")
	mism, err = o.EnsureTopics([]runtime.TopicSpec{
		{Name: "rtk-compact-delete", Partitions: 3, Compacted: true},
		{Name: "rtk-not-compacted", Partitions: 3, Compacted: true},
		{Name: "rtk-default-policy", Partitions: 3, Compacted: true},
	})
	require.NoError(t, err)
	require.Len(t, mism, 2, "%v", mism)
	require.Equal(t, "rtk-default-policy", mism[0].Topic)
	require.Contains(t, mism[0].What, "cleanup.policy is delete")
	require.Equal(t, "rtk-not-compacted", mism[1].Topic)
	require.Contains(t, mism[1].What, "cleanup.policy is delete")
}

// Kafka 4 no longer serves the request versions of Kafka before 2.1 (KIP-896); kfake still
// does. Sarama picks request versions from Config.Version, and some it does not negotiate:
// with a Version below 2.0, ListTopics (and so EnsureTopics) sends DescribeConfigs v0, which
// Kafka 4 answers by closing the connection (EOF). Guarded here so that it fails on kfake too.
func TestSaramaVersionServedByKafka4(t *testing.T) {
	for _, offset := range []int64{sarama.OffsetOldest, sarama.OffsetNewest} {
		v := runtime.DefaultOptions("127.0.0.1:1").Sarama(offset).Version
		require.True(t, v.IsAtLeast(sarama.V2_1_0_0), "Sarama Version %s: Kafka 4 needs at least 2.1", v)
	}
}
