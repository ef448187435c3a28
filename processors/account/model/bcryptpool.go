package model

import (
	"runtime"
	"sync"

	"github.com/sirupsen/logrus"
)

// bcrypt is the one CPU-heavy step of the service (tens of milliseconds a hash), and a login
// storm must not stall the cheap commands of other accounts sharing the process. Go has no
// goroutine priorities, and a goroutine in a long computation holds its Go processor: inside
// the service, bcrypt would take processors the pipeline waits for. So where the binary can
// (UseBcryptHelper), bcrypt runs in a helper process of its own, every thread of it at the
// lowest priority (nice 19): the kernel gives each core to the service first and to bcrypt
// whatever is left, bcrypt still uses every idle core, and neither process changes its
// GOMAXPROCS (each follows the container's CPU limit, which the kernel enforces for both
// together, in the same cgroup). Without a helper (tests, which run no atlas binary) bcrypt
// runs in-process, at most GOMAXPROCS at once.

// bcryptOp is one bcrypt operation: a hash of plain at cost, or a check of plain against hash.
type bcryptOp struct {
	compare bool
	cost    int
	hash    []byte
	plain   []byte
}

// bcryptResult is an operation's outcome: the new hash, or whether the password matched.
type bcryptResult struct {
	hash  []byte
	match bool
	err   error
}

// bcryptRunner runs operations: the helper process, or in-process.
type bcryptRunner interface {
	run(op bcryptOp) (bcryptResult, error)
}

var (
	runnerOnce   sync.Once
	runner       bcryptRunner
	helperArgs   []string // set by UseBcryptHelper
	helperArgsMu sync.Mutex
)

// UseBcryptHelper tells the account service that this binary serves ServeBcryptHelper when run
// with args: bcrypt then runs in such a helper process. Call it before the first bcrypt.
func UseBcryptHelper(args ...string) {
	helperArgsMu.Lock()
	defer helperArgsMu.Unlock()
	helperArgs = append([]string(nil), args...)
}

func bcryptDo(op bcryptOp) bcryptResult {
	runnerOnce.Do(func() {
		helperArgsMu.Lock()
		args := helperArgs
		helperArgsMu.Unlock()
		local := newLocalRunner()
		runner = local
		if len(args) > 0 {
			runner = newHelperRunner(args, local)
		}
	})
	res, err := runner.run(op)
	if err != nil {
		res.err = err
	}
	return res
}

// localRunner runs bcrypt in this process, at most GOMAXPROCS at once.
type localRunner struct{ slots chan struct{} }

func newLocalRunner() *localRunner {
	return &localRunner{slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

func (l *localRunner) run(op bcryptOp) (bcryptResult, error) {
	l.slots <- struct{}{}
	defer func() { <-l.slots }()
	return computeBcrypt(op), nil
}

func logHelperFallback(err error) {
	logrus.WithError(err).Warn("bcrypt helper process unavailable: this bcrypt runs in the service process, at normal priority")
}
