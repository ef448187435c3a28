package runtime_test

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// exhausted is a listener that fails its next n accepts with EMFILE, as a process out of
// file descriptors does, then accepts normally.
type exhausted struct {
	net.Listener
	fail atomic.Int32
}

func (l *exhausted) Accept() (net.Conn, error) {
	if l.fail.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

func TestGuardListenerWaitsOutEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ex := &exhausted{Listener: ln}
	ex.fail.Store(3)
	g := runtime.GuardListener(ex, "test", runtime.NewConnLimit(1))
	defer g.Close()

	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := g.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	first, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer first.Close()
	c := <-accepted
	require.NotNil(t, c, "Accept returned an error instead of waiting out EMFILE")

	// Over the limit: closed at once by the listener, which reads as EOF here.
	second, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer second.Close()
	require.NoError(t, second.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = second.Read(make([]byte, 1))
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded)

	// A freed place is usable again.
	require.NoError(t, c.Close())
	third, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer third.Close()
	require.NotNil(t, <-accepted)
	require.NoError(t, g.Close())
}

// The embedded broker's accept loop ends on the first accept error; guarded, it outlives a
// burst of EMFILE and still serves clients afterwards.
func TestEmbeddedBrokerSurvivesEMFILE(t *testing.T) {
	var ex *exhausted
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		ex = &exhausted{Listener: ln}
		ex.fail.Store(5)
		return runtime.GuardListener(ex, "kafka", nil), nil
	}))
	require.NoError(t, err)
	defer cluster.Close()
	require.Eventually(t, func() bool { return ex.fail.Load() < 0 }, 10*time.Second, time.Millisecond, "the accept loop went through the failures")

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.Ping(ctx))
}
