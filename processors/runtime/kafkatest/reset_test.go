package kafkatest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinAndVanish makes a consumer-group member that never heartbeats nor leaves, as a test
// process killed mid-run leaves behind: the broker keeps the group non-empty until the
// member's session times out.
func joinAndVanish(t *testing.T, cl *kgo.Client, group string, session time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = group
	join.SessionTimeoutMillis = int32(session.Milliseconds())
	join.RebalanceTimeoutMillis = int32(session.Milliseconds())
	join.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = (&kmsg.ConsumerMemberMetadata{Topics: []string{Name("kt-reset")}}).AppendTo(nil)
	join.Protocols = append(join.Protocols, p)
	var resp *kmsg.JoinGroupResponse
	for i := 0; i < 10; i++ {
		var err error
		resp, err = join.RequestWith(ctx, cl)
		require.NoError(t, err)
		err = kerr.ErrorForCode(resp.ErrorCode)
		if err == kerr.MemberIDRequired {
			join.MemberID = resp.MemberID // join again with the id the broker gave
			continue
		}
		if kerr.IsRetriable(err) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		require.NoError(t, err, "join group")
		break
	}
	require.Equal(t, resp.LeaderID, resp.MemberID, "the only member leads")
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = group, resp.Generation, resp.MemberID
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), resp.Protocol
	sresp, err := sync.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(sresp.ErrorCode), "sync group")
}

func createTopics(t *testing.T, ctx context.Context, cl *kgo.Client, names ...string) {
	t.Helper()
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 30000
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 2, 1
		create.Topics = append(create.Topics, rt)
	}
	cresp, err := create.RequestWith(ctx, cl)
	require.NoError(t, err)
	for _, tp := range cresp.Topics {
		require.NoError(t, kerr.ErrorForCode(tp.ErrorCode), "create %s", tp.Topic)
	}
}

// allTopics lists every topic on the cluster, the run's or not.
func allTopics(t *testing.T, ctx context.Context, cl *kgo.Client) map[string]bool {
	t.Helper()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, tp := range resp.Topics {
		if tp.Topic != nil {
			out[*tp.Topic] = true
		}
	}
	return out
}

// On a real broker, reset waits out a group whose member vanished without leaving, then
// deletes it and the run's topics, and nothing else: a topic of someone else on the cluster
// stays.
func TestResetWaitsForAbandonedGroup(t *testing.T) {
	if RealBrokers() == "" {
		t.Skip(RealBrokersEnv + " not set: each kfake test has a cluster of its own, nothing to reset")
	}
	require.NoError(t, checkPrefix())
	brokers := strings.Split(RealBrokers(), ",")
	hold(t)
	_, _, err := reset(brokers)
	require.NoError(t, err)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	foreign := "kt-not-this-run-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	createTopics(t, ctx, cl, Name("kt-reset"), Name("kt-reset-2"), foreign)
	defer func() { // this test created it: it removes it
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{foreign}
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr(foreign)
		req.Topics = append(req.Topics, dt)
		_, _ = req.RequestWith(context.Background(), cl)
	}()
	const session = 3 * time.Second
	joinAndVanish(t, cl, Name("kt-reset-group"), session)
	groups, err := listGroups(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, []string{Name("kt-reset-group")}, groups)

	start := time.Now()
	ngroups, ntopics, err := reset(brokers)
	require.NoError(t, err)
	took := time.Since(start)
	require.Equal(t, 1, ngroups)
	require.Equal(t, 2, ntopics)
	require.Greater(t, took, session/2, "the group could go only once its member's session ended")
	t.Logf("reset took %s with a member of session %s left behind", took.Round(time.Millisecond), session)

	groups, err = listGroups(ctx, cl)
	require.NoError(t, err)
	require.Empty(t, groups)
	topics, err := userTopics(ctx, cl)
	require.NoError(t, err)
	require.Empty(t, topics)
	require.True(t, allTopics(t, ctx, cl)[foreign], "a topic that is not the run's survives the reset")
}

// KAFKA_BROKERS, the product's variable, does not point the tests at a cluster: only
// ATLAS_TEST_KAFKA_BROKERS does. A shell exported for a shared cluster still tests on kfake.
func TestKafkaBrokersAloneChangesNothing(t *testing.T) {
	if RealBrokers() != "" {
		t.Skip("the real-Kafka lane: " + RealBrokersEnv + " is set")
	}
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	o := Broker(t, 1)
	require.NotEqual(t, []string{"127.0.0.1:1"}, o.Brokers)
	_, err := o.EnsureTopics(o.Streams(goka.Stream(Name("kt-alone"))))
	require.NoError(t, err)
}

// ForMain gives a working broker, wiped on a real one, and Broker refuses to run while it is
// held (a test of a package that shares the broker through TestMain cannot reset it).
func TestForMain(t *testing.T) {
	t.Run("seed", func(t *testing.T) { // something to wipe; the subtest gives the broker back
		o := Broker(t, 1)
		_, err := o.EnsureTopics(o.Streams(goka.Stream(Name("kt-formain"))))
		require.NoError(t, err)
	})
	t.Run("main", func(t *testing.T) {
		o, release, err := ForMain(2)
		require.NoError(t, err)
		defer release()
		if RealBrokers() != "" {
			cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...))
			require.NoError(t, err)
			defer cl.Close()
			topics, err := userTopics(context.Background(), cl)
			require.NoError(t, err)
			require.Empty(t, topics, "ForMain wipes the broker")
			holderMu.Lock()
			h := holderNow
			holderMu.Unlock()
			require.Equal(t, mainHolder, h, "and holds it")
		}
		_, err = o.EnsureTopics(o.Streams(goka.Stream(Name("kt-formain-2"))))
		require.NoError(t, err)
		require.Equal(t, 2, o.Partitions)
	})
}
