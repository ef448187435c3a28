package model

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config holds the account service's rules that operators may tune. FromEnv documents the
// environment variable of each.
type Config struct {
	BcryptCost        int
	AutoRegister      bool
	MaxFailedLogins   uint32
	FailedLoginWindow time.Duration
	TransitionTimeout time.Duration
	// TimerShards rows per timer slot; TickInterval is the slot length and how often the
	// ticker visits the slots that ended.
	TimerShards  int
	TickInterval time.Duration
	// NameCharset is what account names may be made of (ATLAS_NAME_CHARSET).
	NameCharset NameCharset
	// Clock is the wall clock of the timers stage (nil: time.Now); tests drive it. Decisions
	// about commands never read it: they use the command's timestamp.
	Clock func() time.Time
	// Contracts is the contract era of the events (codecs.EraSeed or EraCurrent; "" is
	// seed). The service sets it from its runtime options.
	Contracts string
}

// Now reads the configured wall clock.
func (c Config) Now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// DefaultConfig is the configuration with every default of the specification.
func DefaultConfig() Config {
	return Config{
		BcryptCost:        bcrypt.DefaultCost,
		AutoRegister:      true,
		MaxFailedLogins:   5,
		FailedLoginWindow: 10 * time.Minute,
		TransitionTimeout: 5 * time.Second,
		NameCharset:       NameCharsetASCII,
		TimerShards:       64,
		TickInterval:      time.Second,
	}
}

// FromEnv reads the configuration from the environment, starting from the defaults. A value
// that does not parse is an error: a typo must not silently fall back to a default.
func FromEnv() (Config, error) {
	c := DefaultConfig()
	var errs []error
	intVar := func(name string, dst *int, lo, hi int) {
		if v, ok := os.LookupEnv(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v, ok := os.LookupEnv(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 5s or 10m", name, v))
				return
			}
			*dst = d
		}
	}
	intVar("ATLAS_BCRYPT_COST", &c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	if v, ok := os.LookupEnv("ATLAS_AUTO_REGISTER"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("ATLAS_AUTO_REGISTER=%q: want true or false", v))
		}
		c.AutoRegister = b
	}
	attempts := int(c.MaxFailedLogins)
	intVar("ATLAS_LOGIN_ATTEMPT_LIMIT", &attempts, 1, 1000)
	c.MaxFailedLogins = uint32(attempts)
	durVar("ATLAS_LOGIN_ATTEMPT_WINDOW", &c.FailedLoginWindow)
	durVar("ATLAS_TRANSITION_TIMEOUT", &c.TransitionTimeout)
	intVar("ATLAS_TIMER_SHARDS", &c.TimerShards, 1, 1000)
	durVar("ATLAS_TIMER_TICK", &c.TickInterval)
	if cs, err := NameCharsetFromEnv(); err != nil {
		errs = append(errs, err)
	} else {
		c.NameCharset = cs
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("account configuration: %v", errs)
	}
	return c, nil
}
