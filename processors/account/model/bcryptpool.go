package model

import (
	"runtime"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// bcrypt is the one CPU-heavy step of the service (tens of milliseconds a hash), and a login
// storm must not stall the cheap commands of other accounts sharing the process. Go has no
// goroutine priorities, so bcrypt runs on a pool of goroutines each locked to an OS thread
// whose nice value is raised: the kernel then gives every core to normal work first and to
// bcrypt whatever is left, so bcrypt still uses every idle core. The pool has one worker per
// Go processor the runtime chose (runtime.GOMAXPROCS, which follows a container's CPU limit),
// and those workers get processors of their own (GOMAXPROCS is raised by the pool size), so a
// bcrypt that the kernel has paused never holds a processor other goroutines wait for. The
// process still uses no more CPU than its limit: the kernel, not GOMAXPROCS, enforces that.
// Without the extra processors, a login storm took the p99 of other accounts' commands from
// 0.4 to 28 times its quiet value in `atlas bench --quick` (isolation_p99_ratio).
type bcryptPool struct {
	once sync.Once
	jobs chan func()
}

// bcryptNice is the nice value of the bcrypt threads (19: the lowest priority).
const bcryptNice = 19

var bcryptWorkers bcryptPool

func (p *bcryptPool) start() {
	n := runtime.GOMAXPROCS(0)
	p.jobs = make(chan func())
	runtime.GOMAXPROCS(n + n)
	for i := 0; i < n; i++ {
		go p.work()
	}
}

func (p *bcryptPool) work() {
	runtime.LockOSThread() // never unlocked: the thread keeps its nice value for good
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), bcryptNice); err != nil {
		logrus.WithError(err).Warn("bcrypt thread priority not lowered; bcrypt competes with other work as equal")
	}
	for job := range p.jobs {
		job()
	}
}

// run executes f on a bcrypt worker and waits for it. At most GOMAXPROCS run at once.
func (p *bcryptPool) run(f func()) {
	p.once.Do(p.start)
	done := make(chan struct{})
	p.jobs <- func() {
		defer close(done)
		f()
	}
	<-done
}
