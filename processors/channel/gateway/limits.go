package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
)

// Limits bound what one client can make the gateway hold or do. The zero value of a field is
// its default (DefaultLimits).
type Limits struct {
	// MaxConnections bounds the connections of the instance, every channel together; one more
	// is closed at accept (runtime.GuardListener). Counted before the WebSocket upgrade, so
	// idle sockets count too.
	MaxConnections int
	// EnterTimeout is how long a connection may take to enter (a valid ticket and the account
	// service's answer); then it is closed with ENTER_TIMEOUT. At most MaxEnterTimeout.
	EnterTimeout time.Duration
	// PingInterval is how often a connection is pinged; PongTimeout how long its pong may take
	// before the connection is closed with IDLE_TIMEOUT. A dead peer goes within their sum.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// FrameRate and FrameBurst are a connection's token bucket: over it, a frame is answered
	// with RATE_LIMITED and not handled. StrikeBurst over-rate frames in a row (refilled at a
	// tenth of FrameRate) close the connection.
	FrameRate   float64
	FrameBurst  int
	StrikeBurst int
	// MaxFrameBytes bounds a frame (at most protocol.MaxFrameBytes); a bigger one is answered
	// with FRAME_TOO_LARGE, and one above 16 times that ends the connection.
	MaxFrameBytes int
}

// MaxEnterTimeout bounds EnterTimeout: a socket that proves nothing is not held longer.
const MaxEnterTimeout = 15 * time.Second

// DefaultLimits are the limits of a gateway that sets none.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections: 10000,
		EnterTimeout:   10 * time.Second,
		PingInterval:   20 * time.Second,
		PongTimeout:    10 * time.Second,
		FrameRate:      30,
		FrameBurst:     60,
		StrikeBurst:    60,
		MaxFrameBytes:  protocol.MaxFrameBytes,
	}
}

// WithDefaults is l with every unset field at its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	orDefault(&l.MaxConnections, d.MaxConnections)
	orDefault(&l.EnterTimeout, d.EnterTimeout)
	orDefault(&l.PingInterval, d.PingInterval)
	orDefault(&l.PongTimeout, d.PongTimeout)
	orDefault(&l.FrameRate, d.FrameRate)
	orDefault(&l.FrameBurst, d.FrameBurst)
	orDefault(&l.StrikeBurst, d.StrikeBurst)
	orDefault(&l.MaxFrameBytes, d.MaxFrameBytes)
	return l
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate refuses limits that would leave the gateway unbounded.
func (l Limits) Validate() error {
	l = l.WithDefaults()
	var errs []error
	if l.MaxConnections < 1 {
		errs = append(errs, errors.New("max connections must be at least 1"))
	}
	if l.EnterTimeout < 0 || l.EnterTimeout > MaxEnterTimeout {
		errs = append(errs, fmt.Errorf("enter timeout must be positive and at most %s", MaxEnterTimeout))
	}
	if l.PingInterval < 0 || l.PongTimeout < 0 {
		errs = append(errs, errors.New("ping interval and pong timeout must be positive"))
	}
	if l.FrameRate < 0 || l.FrameBurst < 1 || l.StrikeBurst < 1 {
		errs = append(errs, errors.New("frame rate must be positive, frame and strike bursts at least 1"))
	}
	if l.MaxFrameBytes < 1 || l.MaxFrameBytes > protocol.MaxFrameBytes {
		errs = append(errs, fmt.Errorf("max frame bytes must be from 1 to %d", protocol.MaxFrameBytes))
	}
	return errors.Join(errs...)
}
