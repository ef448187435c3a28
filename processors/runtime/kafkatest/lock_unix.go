//go:build unix

package kafkatest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockBroker takes an exclusive lock shared by every test process of this machine that uses
// the same ATLAS_TEST_KAFKA_BROKERS, so that packages run in parallel (go test without -p 1) take turns
// instead of wiping each other's topics. It blocks until the lock is free.
func lockBroker(brokers string) (unlock func(), err error) {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, brokers)
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "atlas-kafkatest-"+name+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
