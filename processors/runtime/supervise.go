package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
)

// Backoff bounds of the supervisor.
const (
	minRestartDelay = 500 * time.Millisecond
	maxRestartDelay = 30 * time.Second
	// a run that lasted this long was healthy: the next failure starts from the minimum delay
	healthyRun = time.Minute
)

// Supervise runs run until ctx ends, restarting it with exponential backoff whenever it
// returns an error (a broker outage, a rebalance failure, a processor stopped by an emit that
// could not be delivered). A nil return while ctx is live also counts as a stop to restart.
func Supervise(ctx context.Context, name string, run func(context.Context) error) {
	delay := minRestartDelay
	for {
		start := time.Now()
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > healthyRun {
			delay = minRestartDelay
		}
		if err == nil {
			err = errors.New("stopped without error")
		}
		Restarts.WithLabelValues(name).Inc()
		logrus.WithError(err).WithFields(logrus.Fields{"component": name, "retry_in": delay.String()}).Error("component stopped; restarting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
		if delay > maxRestartDelay {
			delay = maxRestartDelay
		}
	}
}
