package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The options must work against a Kafka-protocol broker: topics created with the right
// shape, a stateful processor recovering and processing, an emitter feeding it.
func TestProcessorOnKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	defer c.Close()
	o := DefaultOptions(c.ListenAddrs()...)
	o.Partitions = 4

	in, group := goka.Stream("rt-in"), goka.Group("rt-group")
	mism, err := o.EnsureTopics(append(o.Streams(in), o.Tables(goka.GroupTable(group))...))
	require.NoError(t, err)
	require.Empty(t, mism)
	mism, err = o.EnsureTopics([]TopicSpec{{Name: string(in), Partitions: 3}, {Name: string(goka.GroupTable(group)), Partitions: 4, Compacted: true}})
	require.NoError(t, err)
	require.Len(t, mism, 1, "a partition mismatch is reported: %v", mism)
	require.Equal(t, string(in), mism[0].Topic)

	gg := goka.DefineGroup(group,
		goka.Input(in, new(codec.String), func(ctx goka.Context, msg interface{}) {
			n, _ := ctx.Value().(int64)
			ctx.SetValue(n + 1)
		}),
		goka.Persist(new(codec.Int64)),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := o.StartProcessor(ctx, gg, sarama.OffsetOldest)

	em, err := goka.NewEmitter(o.Brokers, in, new(codec.String), o.EmitterOptions("test")...)
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		require.NoError(t, em.EmitSync("k", "v"))
	}
	require.NoError(t, em.Finish())

	require.Eventually(t, func() bool {
		p := r.Processor()
		if p == nil || !r.Ready() {
			return false
		}
		v, err := p.Get("k")
		return err == nil && v != nil && v.(int64) == 10
	}, 60*time.Second, 50*time.Millisecond)
	cancel()
	<-r.Done()
}
