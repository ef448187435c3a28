package runtime

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
)

// Running is a supervised Goka processor: the current instance (replaced on each restart) and
// whether it has recovered its table and is processing.
type Running struct {
	Name      string
	component string // the metrics' component label, set while the collector tracks it
	proc      atomic.Pointer[goka.Processor]
	done      chan struct{}
}

// Ready reports whether the current instance has recovered and runs.
func (r *Running) Ready() bool {
	p := r.proc.Load()
	return p != nil && p.Recovered()
}

// Processor returns the current instance, or nil between restarts.
func (r *Running) Processor() *goka.Processor { return r.proc.Load() }

// Done is closed when the supervisor gave up because ctx ended.
func (r *Running) Done() <-chan struct{} { return r.done }

// StartProcessor runs the group graph under a supervisor until ctx ends. Streams start at
// initialOffset when the group has no committed offset yet.
func (o Options) StartProcessor(ctx context.Context, gg *goka.GroupGraph, initialOffset int64, extra ...goka.ProcessorOption) *Running {
	r := &Running{Name: string(gg.Group()), done: make(chan struct{})}
	ctx = recordsize.WithLimit(ctx, o.MaxRecordBytes)
	track(&statsCollector.processors, r, r.Name, &r.component)
	go func() {
		defer close(r.done)
		defer untrack(&statsCollector.processors, r, r.component)
		Supervise(ctx, r.Name, func(ctx context.Context) error {
			opts := append(o.ProcessorOptions(gg.Group(), initialOffset), extra...)
			p, err := goka.NewProcessor(o.Brokers, gg, opts...)
			if err != nil {
				return err
			}
			r.proc.Store(p)
			defer r.proc.Store(nil)
			return p.Run(ctx)
		})
	}()
	return r
}

// RunningView is a supervised Goka view.
type RunningView struct {
	Name      string
	Table     goka.Table
	component string // the metrics' component label, set while the collector tracks it
	view      atomic.Pointer[goka.View]
	done      chan struct{}
}

// Ready reports whether the view has recovered the whole table.
func (r *RunningView) Ready() bool {
	v := r.view.Load()
	return v != nil && v.Recovered()
}

// View returns the current view, or nil between restarts.
func (r *RunningView) View() *goka.View { return r.view.Load() }

// Done is closed when ctx ended and the view stopped.
func (r *RunningView) Done() <-chan struct{} { return r.done }

// StartView runs a view of table under a supervisor until ctx ends.
func (o Options) StartView(ctx context.Context, table goka.Table, c goka.Codec) *RunningView {
	r := &RunningView{Name: "view " + string(table), Table: table, done: make(chan struct{})}
	track(&statsCollector.views, r, r.Name, &r.component)
	go func() {
		defer close(r.done)
		defer untrack(&statsCollector.views, r, r.component)
		Supervise(ctx, r.Name, func(ctx context.Context) error {
			v, err := goka.NewView(o.Brokers, table, c, o.ViewOptions(table)...)
			if err != nil {
				return err
			}
			r.view.Store(v)
			defer r.view.Store(nil)
			return v.Run(ctx)
		})
	}()
	return r
}

// WaitAll waits until every done channel is closed.
func WaitAll(chs ...<-chan struct{}) {
	var wg sync.WaitGroup
	for _, c := range chs {
		wg.Add(1)
		go func(c <-chan struct{}) { defer wg.Done(); <-c }(c)
	}
	wg.Wait()
}
