package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// A component whose Run fails is restarted, with growing pauses, until it runs; the restarts
// are counted; the supervisor returns when its context ends.
func TestSuperviseRestartsAFailingComponent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	var starts []time.Time
	healthy := make(chan struct{})
	done := make(chan struct{})
	before := testutil.ToFloat64(Restarts.WithLabelValues("flaky"))
	go func() {
		defer close(done)
		Supervise(ctx, "flaky", func(ctx context.Context) error {
			starts = append(starts, time.Now())
			if runs.Add(1) <= 2 {
				return errors.New("broker went away")
			}
			close(healthy)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-healthy:
	case <-time.After(10 * time.Second):
		t.Fatal("the component was not restarted")
	}
	cancel()
	<-done
	require.EqualValues(t, 3, runs.Load())
	require.EqualValues(t, 2, testutil.ToFloat64(Restarts.WithLabelValues("flaky"))-before)
	first, second := starts[1].Sub(starts[0]), starts[2].Sub(starts[1])
	require.GreaterOrEqual(t, first, minRestartDelay)
	require.GreaterOrEqual(t, second, 2*minRestartDelay, "the pause doubles")
}
