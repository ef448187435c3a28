package runtime

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sirupsen/logrus"
)

var (
	listenerRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "listener_refused_total",
		Help: "Connections closed at accept because the listener held its connection limit, by listener.",
	}, []string{"listener"})
	listenerAcceptErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "listener_accept_errors_total",
		Help: "Accept errors a listener waited out (out of file descriptors, aborted connections), by listener.",
	}, []string{"listener"})
	listenerOpen = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "atlas", Name: "listener_connections",
		Help: "Connections a listener holds open, by listener.",
	}, []string{"listener"})
)

// ConnLimit bounds the connections of one or more listeners together (a channel instance's
// gateways share one). The zero value and nil admit any number.
type ConnLimit struct {
	max  int64
	open atomic.Int64
}

// NewConnLimit admits at most max connections at a time (0: no bound).
func NewConnLimit(max int) *ConnLimit { return &ConnLimit{max: int64(max)} }

func (l *ConnLimit) acquire() bool {
	if l == nil {
		return true
	}
	if n := l.open.Add(1); l.max > 0 && n > l.max {
		l.open.Add(-1)
		return false
	}
	return true
}

func (l *ConnLimit) release() {
	if l != nil {
		l.open.Add(-1)
	}
}

// Open is how many connections are held.
func (l *ConnLimit) Open() int {
	if l == nil {
		return 0
	}
	return int(l.open.Load())
}

// GuardListener makes an accept loop that outlives resource exhaustion and bounds what it
// holds. Accept never returns a transient error: out of file descriptors (EMFILE, ENFILE),
// out of buffers or an aborted handshake are counted, logged once per episode and waited out
// with a backoff up to one second, so an accept loop that treats any error as fatal (the
// embedded broker's) keeps serving once descriptors free up. A connection beyond limit is
// closed at once, so a flood of idle sockets cannot exhaust the process; name labels the
// metrics.
func GuardListener(ln net.Listener, name string, limit *ConnLimit) net.Listener {
	for _, m := range []prometheus.Counter{listenerRefused.WithLabelValues(name), listenerAcceptErrors.WithLabelValues(name)} {
		m.Add(0)
	}
	return &guardedListener{Listener: ln, name: name, limit: limit, open: listenerOpen.WithLabelValues(name)}
}

type guardedListener struct {
	net.Listener
	name  string
	limit *ConnLimit
	open  prometheus.Gauge
}

func (l *guardedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !transientAcceptError(err) {
				return nil, err
			}
			listenerAcceptErrors.WithLabelValues(l.name).Inc()
			if delay == 0 {
				logrus.WithError(err).WithField("listener", l.name).Warn("accept failed; retrying until it recovers")
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			time.Sleep(delay) // backoff of a failing accept loop: nothing to wait on but time
			continue
		}
		if delay > 0 {
			logrus.WithField("listener", l.name).Info("accept recovered")
			delay = 0
		}
		if !l.limit.acquire() {
			listenerRefused.WithLabelValues(l.name).Inc()
			_ = c.Close()
			continue
		}
		l.open.Inc()
		return &guardedConn{Conn: c, release: func() { l.limit.release(); l.open.Dec() }}, nil
	}
}

// transientAcceptError: errors after which the next Accept may well succeed.
func transientAcceptError(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type guardedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
