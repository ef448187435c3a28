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
