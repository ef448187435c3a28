package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
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
	// recovered latches, for the current view, that it has read its whole table once;
	// blipSince is when (Unix ns) the view last left the running state after that (0: it has
	// not).
	recovered atomic.Pointer[goka.View]
	blipSince atomic.Int64
	// stopping is closed when the view was told to stop (its context ended): Goka stops
	// updating the view's state then, which could otherwise still say running.
	stopping <-chan struct{}
	done     chan struct{}
}

// reconnectGrace is how long a recovered view stays ready while Goka reconnects a partition:
// long enough for a consumer error's reconnect, short enough that a partition that cannot
// reconnect (brokers gone, the topic recreated) turns the view not ready.
const reconnectGrace = 30 * time.Second

// Ready reports whether the view has recovered the whole table. Once it has, it stays ready
// for up to reconnectGrace while Goka reconnects a partition after a consumer error (the
// partition then reports "connecting" but keeps its rows and serves them): an API that
// answered 503 for every such blip failed three full benchmark runs in five. A view that is
// stopping, or a restart of it (a new view, which reads the table from nothing), is not ready.
func (r *RunningView) Ready() bool {
	v := r.view.Load()
	if v == nil {
		return false
	}
	if v.Recovered() {
		r.recovered.Store(v)
		r.blipSince.Store(0)
		return true
	}
	if r.recovered.Load() != v || r.stopped() {
		return false
	}
	return r.blipReady(v.CurrentState(), time.Now().UnixNano())
}

// stopped tells whether the view was told to stop.
func (r *RunningView) stopped() bool {
	select {
	case <-r.stopping: // a nil channel (a RunningView made by hand) never is
		return true
	default:
		return false
	}
}

// blipReady is Ready for a view that recovered once and now has a partition that is not
// running, in view state state at now (Unix ns). Only a stopped view (idle) is not ready at
// once. Goka merges its partitions' states into the view's in a goroutine of its own, so the
// view may still say running (or initializing) while a partition reconnects: those are blips
// too, and the API answered 503 in the middle of a benchmark run for one.
func (r *RunningView) blipReady(state goka.ViewState, now int64) bool {
	if state == goka.ViewStateIdle {
		return false // stopping, or stopped
	}
	r.blipSince.CompareAndSwap(0, now)
	return time.Duration(now-r.blipSince.Load()) < reconnectGrace
}

// View returns the current view, or nil between restarts.
func (r *RunningView) View() *goka.View { return r.view.Load() }

// Done is closed when ctx ended and the view stopped.
func (r *RunningView) Done() <-chan struct{} { return r.done }

// StartView runs a view of table under a supervisor until ctx ends.
func (o Options) StartView(ctx context.Context, table goka.Table, c goka.Codec) *RunningView {
	return o.StartIndexedView(ctx, table, c, nil)
}

// ViewIndex is a structure kept beside a view's table while the view reads it (for instance
// views.AccountIndex): Update is the view's update callback, Reset empties it.
type ViewIndex interface {
	Reset()
	Update(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error
}

// StartIndexedView is StartView with ix (nil: none) kept up to date by the view. Each run of
// the view starts from an empty index and an in-memory table whatever StorageDir says, so
// that the run reads the whole table through ix: a local copy would skip the rows it holds.
func (o Options) StartIndexedView(ctx context.Context, table goka.Table, c goka.Codec, ix ViewIndex) *RunningView {
	r := &RunningView{Name: "view " + string(table), Table: table, stopping: ctx.Done(), done: make(chan struct{})}
	track(&statsCollector.views, r, r.Name, &r.component)
	opts := o.ViewOptions(table)
	if ix != nil {
		opts = append(opts, goka.WithViewStorageBuilder(MemStorageBuilder()), goka.WithViewCallback(ix.Update))
	}
	go func() {
		defer close(r.done)
		defer untrack(&statsCollector.views, r, r.component)
		Supervise(ctx, r.Name, func(ctx context.Context) error {
			if ix != nil {
				ix.Reset()
			}
			v, err := goka.NewView(o.Brokers, table, c, opts...)
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
