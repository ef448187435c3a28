package channel

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/stretchr/testify/require"
)

func TestScratchStartup(t *testing.T) {
	o := kafkatest.Broker(t, 8)
	var specs []runtime.TopicSpec
	counts := []int{3, 8, 12}
	for i, s := range atlas.ChannelConsumedTopics {
		specs = append(specs, runtime.TopicSpec{Name: string(s), Partitions: counts[i%3]})
	}
	_, err := o.EnsureTopics(specs)
	require.NoError(t, err)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := o.Sarama(sarama.OffsetNewest)
	cfg.Consumer.Group.Rebalance.Strategy = nil
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
	var got atomic.Int64
	var rs []*runtime.Running
	group := atlas.ChannelGroup("x")
	for _, s := range atlas.ChannelConsumedTopics {
		gg := goka.DefineGroup(group, goka.Input(s, new(codec.Bytes), func(ctx goka.Context, msg any) { got.Add(1) }))
		rs = append(rs, o.StartProcessor(ctx, gg, sarama.OffsetNewest, goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(cfg))))
	}
	require.Eventually(t, func() bool {
		for _, r := range rs {
			if !r.Ready() {
				return false
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond)
	fmt.Println("ready after", time.Since(start))
	flips := 0
	for i := 0; i < 800; i++ {
		for _, r := range rs {
			if !r.Ready() {
				flips++
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("not-ready polls after first ready:", flips)
	p := kafkatest.NewProducer(t, o)
	require.Eventually(t, func() bool {
		for _, s := range atlas.ChannelConsumedTopics {
			p.Produce(string(s), []byte("k"), []byte("v"), nil)
		}
		return got.Load() >= int64(len(atlas.ChannelConsumedTopics))
	}, 60*time.Second, 500*time.Millisecond)
	fmt.Println("consuming after", time.Since(start), got.Load())
	cancel()
	for _, r := range rs {
		<-r.Done()
	}
	fmt.Println("stopped after", time.Since(start))
}
