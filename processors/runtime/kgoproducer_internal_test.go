package runtime

import (
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// When the brokers are gone, a record's promise fails once deliveryTimeout has passed, with
// acks=all (idempotent) as with acks=1: the processor then fails and is restarted, rather
// than stalling for good, and Close does not hang on what is still buffered.
func TestProducerFailsRecordsWhenTheBrokersAreGone(t *testing.T) {
	defer func(d, c time.Duration) { deliveryTimeout, closeTimeout = d, c }(deliveryTimeout, closeTimeout)
	deliveryTimeout, closeTimeout = 2*time.Second, time.Second
	for _, acksAll := range []bool{true, false} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "gone"))
		require.NoError(t, err)
		o := DefaultOptions(c.ListenAddrs()...)
		o.AcksAll = acksAll
		p, err := o.ProducerBuilder()(o.Brokers, "test", goka.DefaultHasher())
		require.NoError(t, err)
		written := make(chan error, 1)
		p.Emit("gone", "k", []byte("v")).Then(func(err error) { written <- err })
		require.NoError(t, <-written, "acks all %v: the first record, brokers up", acksAll)

		c.Close()
		failed := make(chan error, 1)
		sent := time.Now()
		p.Emit("gone", "k", []byte("v2")).Then(func(err error) { failed <- err })
		select {
		case err := <-failed:
			require.Error(t, err, "acks all %v", acksAll)
			require.GreaterOrEqual(t, time.Since(sent), deliveryTimeout, "acks all %v: failed by the delivery timeout, not at once", acksAll)
		case <-time.After(30 * time.Second):
			t.Fatalf("acks all %v: no promise 30 s after the brokers went", acksAll)
		}
		closed := make(chan struct{})
		go func() { _ = p.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("acks all %v: Close hangs", acksAll)
		}
	}
}

// A flush frequency franz-go would refuse is refused where it is set, not by every processor
// at start.
func TestFlushFrequencyOverTheLingerLimitIsRefused(t *testing.T) {
	t.Setenv("ATLAS_FLUSH_FREQUENCY", "2m")
	_, err := OptionsFromEnv()
	require.ErrorContains(t, err, "ATLAS_FLUSH_FREQUENCY")
}

// franz-go's warnings and errors reach the log with their key-values; its chattier levels
// are not asked for.
func TestKgoLoggerForwardsWarningsAndErrors(t *testing.T) {
	hook := logtest.NewGlobal()
	defer hook.Reset()
	l := kgoLogger{client: "test-logger-c1"}
	require.Equal(t, kgo.LogLevelWarn, l.Level())
	l.Log(kgo.LogLevelWarn, "produce failed", "broker", 1, "err", "timeout")
	l.Log(kgo.LogLevelError, "fatal")
	var entries []logrus.Entry // this logger's only: other clients may log meanwhile
	for _, e := range hook.AllEntries() {
		if e.Data["client"] == "test-logger-c1" {
			entries = append(entries, *e)
		}
	}
	require.Len(t, entries, 2)
	require.Equal(t, logrus.WarnLevel, entries[0].Level)
	require.Equal(t, logrus.Fields{"client": "test-logger-c1", "kafka_broker": 1, "kafka_err": "timeout"}, entries[0].Data)
	require.Equal(t, logrus.ErrorLevel, entries[1].Level)
}
