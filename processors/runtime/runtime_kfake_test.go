package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// The options must work against a Kafka-protocol broker: topics created with the right
// shape, a stateful processor recovering and processing, an emitter feeding it.
func TestProcessorOnKfake(t *testing.T) {
	o := kafkatest.Broker(t, 4)

	in, group := goka.Stream("rt-in"), goka.Group("rt-group")
	mism, err := o.EnsureTopics(append(o.Streams(in), o.Tables(goka.GroupTable(group))...))
	require.NoError(t, err)
	require.Empty(t, mism)
	mism, err = o.EnsureTopics([]runtime.TopicSpec{{Name: string(in), Partitions: 3}, {Name: string(goka.GroupTable(group)), Partitions: 4, Compacted: true}})
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

func TestStatsExportLagAndTableState(t *testing.T) {
	o := kafkatest.Broker(t, 2)
	in, group := goka.Stream("st-in"), goka.Group("st-group")
	_, err := o.EnsureTopics(append(o.Streams(in), o.Tables(goka.GroupTable(group))...))
	require.NoError(t, err)
	gg := goka.DefineGroup(group,
		goka.Input(in, new(codec.String), func(ctx goka.Context, msg interface{}) { ctx.SetValue(msg) }),
		goka.Persist(new(codec.String)),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := o.StartProcessor(ctx, gg, sarama.OffsetOldest)
	v := o.StartView(ctx, goka.GroupTable(group), new(codec.String))
	v2 := o.StartView(ctx, goka.GroupTable(group), new(codec.String)) // a second view of one table, as in the dev stack
	require.Eventually(t, func() bool { return r.Ready() && v.Ready() && v2.Ready() }, 60*time.Second, 20*time.Millisecond)

	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err, "no two components export the same series")
	found := map[string]int{}
	components := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["group"] == string(group) || labels["table"] == string(goka.GroupTable(group)) {
				found[mf.GetName()]++
				require.NotContains(t, labels, "instance", "%s: Prometheus owns the instance label", mf.GetName())
				require.NotEmpty(t, labels["component"], mf.GetName())
				components[labels["component"]] = true
				if mf.GetName() == "atlas_table_partition_running" {
					require.EqualValues(t, 1, m.GetGauge().GetValue(), "recovered partitions report running")
				}
			}
		}
	}
	require.Equal(t, 2, found["atlas_consumer_lag"], "one lag per input partition: %v", found)
	require.Equal(t, 6, found["atlas_table_partition_running"], "two partitions each of the group table and the two views: %v", found)
	require.Equal(t, map[string]bool{string(group): true, "view " + string(goka.GroupTable(group)): true, "view " + string(goka.GroupTable(group)) + "#2": true}, components,
		"a component is labelled by its name, suffixed only when the name is taken")
	cancel()
	runtime.WaitAll(r.Done(), v.Done(), v2.Done())
}

// Two views of one table in one process, with local LevelDB copies (ATLAS_STORAGE_DIR): each
// has a folder of its own (LevelDB locks its folder; `atlas dev` runs two registry views).
func TestTwoViewsOfOneTableWithLocalStorage(t *testing.T) {
	o := kafkatest.Broker(t, 2)
	o.StorageDir = t.TempDir()
	table := goka.GroupTable(goka.Group("lv-group"))
	_, err := o.EnsureTopics(o.Tables(table))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := o.StartView(ctx, table, new(codec.String))
	v2 := o.StartView(ctx, table, new(codec.String))
	require.Eventually(t, func() bool { return v.Ready() && v2.Ready() }, 60*time.Second, 20*time.Millisecond)
	cancel()
	runtime.WaitAll(v.Done(), v2.Done())
}
