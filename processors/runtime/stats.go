package runtime

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
)

// gokaStats exports Goka's own statistics of every processor and view this process runs:
// consumer lag per input partition, and the state and recovery progress of every table
// partition. It reads them at scrape time, so it costs nothing between scrapes.
type gokaStats struct {
	mu         sync.Mutex
	processors []*Running
	views      []*RunningView
	components map[string]bool // component labels in use
}

var (
	statsCollector = &gokaStats{components: map[string]bool{}}

	lagDesc = prometheus.NewDesc("atlas_consumer_lag",
		"Messages of an input partition not yet processed (Goka's offset lag).",
		[]string{"group", "component", "topic", "partition"}, nil)
	tableStateDesc = prometheus.NewDesc("atlas_table_partition_running",
		"1 when a table partition has recovered and runs, 0 while it connects, recovers or prepares.",
		[]string{"component", "table", "partition"}, nil)
	recoveryLagDesc = prometheus.NewDesc("atlas_table_recovery_lag",
		"Records of a table partition still to recover (high-water mark minus recovered offset).",
		[]string{"component", "table", "partition"}, nil)
)

func init() { prometheus.MustRegister(statsCollector) }

// track adds a component to one of the collector's lists until untrack removes it, and sets its
// `component` label before Collect can see it: its name (the one its restarts are counted
// under), with a "#n" suffix only while another component of that name runs in this process
// (tests, the dev stack), so that their series stay distinct. The label is not called
// `instance`: Prometheus sets that one on every scraped series to name the target.
func track[T comparable](list *[]T, x T, name string, label *string) {
	statsCollector.mu.Lock()
	defer statsCollector.mu.Unlock()
	*label = name
	for n := 2; statsCollector.components[*label]; n++ {
		*label = name + "#" + strconv.Itoa(n)
	}
	statsCollector.components[*label] = true
	*list = append(*list, x)
}

func untrack[T comparable](list *[]T, x T, label string) {
	statsCollector.mu.Lock()
	defer statsCollector.mu.Unlock()
	*list = without(*list, x)
	delete(statsCollector.components, label)
}

func without[T comparable](list []T, x T) []T {
	out := list[:0]
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func (s *gokaStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- tableStateDesc
	ch <- recoveryLagDesc
}

func (s *gokaStats) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	procs := append([]*Running(nil), s.processors...)
	views := append([]*RunningView(nil), s.views...)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, r := range procs {
		p := r.Processor()
		if p == nil {
			continue
		}
		st := p.StatsWithContext(ctx)
		if st == nil {
			continue
		}
		for part, pp := range st.Group {
			ps := strconv.Itoa(int(part))
			for topic, in := range pp.Input {
				ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(in.OffsetLag), r.Name, r.component, topic, ps)
			}
			if pp.TableStats != nil {
				tableMetrics(ch, r.component, string(goka.GroupTable(goka.Group(r.Name))), ps, pp.TableStats)
			}
		}
	}
	for _, r := range views {
		v := r.View()
		if v == nil {
			continue
		}
		st := v.Stats(ctx)
		if st == nil {
			continue
		}
		for part, ts := range st.Partitions {
			tableMetrics(ch, r.component, string(r.Table), strconv.Itoa(int(part)), ts)
		}
	}
}

func tableMetrics(ch chan<- prometheus.Metric, component, table, partition string, ts *TableStats) {
	running := 0.0
	if ts.Status == goka.PartitionRunning {
		running = 1
	}
	ch <- prometheus.MustNewConstMetric(tableStateDesc, prometheus.GaugeValue, running, component, table, partition)
	if ts.Recovery != nil {
		lag := ts.Recovery.Hwm - ts.Recovery.Offset - 1
		if lag < 0 {
			lag = 0
		}
		ch <- prometheus.MustNewConstMetric(recoveryLagDesc, prometheus.GaugeValue, float64(lag), component, table, partition)
	}
}

// TableStats is Goka's table partition statistics.
type TableStats = goka.TableStats
