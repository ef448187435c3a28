package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"
	"github.com/stretchr/testify/require"
)

// A view that has stopped is not ready, even in the moment before its supervisor forgets it:
// the latch that keeps a recovered view ready through a reconnect does not outlive the run.
func TestAStoppedViewIsNotReady(t *testing.T) {
	tt := tester.New(t)
	v, err := goka.NewView(nil, goka.Table("ready-table"), new(codec.String), goka.WithViewTester(tt))
	require.NoError(t, err)
	r := &RunningView{}
	r.view.Store(v)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	tt.SetTableValue(goka.Table("ready-table"), "k", "v")
	require.Eventually(t, v.Recovered, 10*time.Second, time.Millisecond)
	require.True(t, r.Ready())
	cancel()
	<-done // Run returned; the supervisor has not stored nil yet
	require.False(t, r.Ready(), "a stopped view is not ready")
}

// A recovered view whose partition reconnects stays ready for reconnectGrace whatever view
// state Goka shows meanwhile (it merges partition states in a goroutine of its own, so it may
// still show running), and is not ready at once when it stopped.
func TestABlipKeepsARecoveredViewReadyForTheGrace(t *testing.T) {
	for _, state := range []goka.ViewState{goka.ViewStateInitializing, goka.ViewStateConnecting, goka.ViewStateCatchUp, goka.ViewStateRunning} {
		r := &RunningView{}
		start := time.Now().UnixNano()
		require.True(t, r.blipReady(state, start), "state %v", state)
		require.True(t, r.blipReady(state, start+int64(reconnectGrace)-1), "state %v, within the grace", state)
		require.False(t, r.blipReady(state, start+int64(reconnectGrace)), "state %v, past the grace", state)
	}
	require.False(t, (&RunningView{}).blipReady(goka.ViewStateIdle, time.Now().UnixNano()), "a stopped view")
}

// A view told to stop is not kept ready by the grace: Goka stops updating the view's state
// then, so the state cannot tell a stop from a reconnect.
func TestAViewToldToStopGetsNoGrace(t *testing.T) {
	stop := make(chan struct{})
	r := &RunningView{stopping: stop}
	require.False(t, r.stopped())
	close(stop)
	require.True(t, r.stopped())
	require.False(t, (&RunningView{}).stopped(), "a view without a context is never told to stop")
}
