package model

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/atlasstreams/atlas/processors/metrics"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

// The helper protocol, over the helper's stdin and stdout (pipes between two processes of this
// product: the passwords cross kernel memory only, as they would between two threads).
//
//	request:  id uint32 | op uint8 (0 hash, 1 compare) | cost uint8 | len uint16 | hash | len uint16 | plain
//	response: id uint32 | status uint8 (0 ok, 1 no match, 2 error) | len uint16 | hash or error text
const (
	opHash    = 0
	opCompare = 1

	statusOK      = 0
	statusNoMatch = 1
	statusError   = 2
)

// helperNice is the nice value of every thread of the helper (19: the lowest priority).
const helperNice = 19

func computeBcrypt(op bcryptOp) bcryptResult {
	if op.compare {
		return bcryptResult{match: bcrypt.CompareHashAndPassword(op.hash, op.plain) == nil}
	}
	h, err := bcrypt.GenerateFromPassword(op.plain, op.cost)
	return bcryptResult{hash: h, err: err}
}

func writeChunk(w io.Writer, b []byte) error {
	if len(b) > 0xffff {
		return errors.New("bcrypt helper: field too long")
	}
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readChunk(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

// ServeBcryptHelper is the helper process: it lowers the priority of all its threads, then
// answers requests from in until in closes, up to GOMAXPROCS at once.
func ServeBcryptHelper(in io.Reader, out io.Writer) error {
	lowerAllThreads()
	r := bufio.NewReader(in)
	var wmu sync.Mutex
	w := bufio.NewWriter(out)
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var head [6]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the service closed the pipe: it is stopping
			}
			return err
		}
		hash, err := readChunk(r)
		if err != nil {
			return err
		}
		plain, err := readChunk(r)
		if err != nil {
			return err
		}
		id := binary.BigEndian.Uint32(head[:4])
		op := bcryptOp{compare: head[4] == opCompare, cost: int(head[5]), hash: hash, plain: plain}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			res := computeBcrypt(op)
			Wipe(op.plain)
			status, body := byte(statusOK), res.hash
			switch {
			case res.err != nil:
				status, body = statusError, []byte(res.err.Error())
			case op.compare && !res.match:
				status = statusNoMatch
			}
			var rh [5]byte
			binary.BigEndian.PutUint32(rh[:4], id)
			rh[4] = status
			wmu.Lock()
			defer wmu.Unlock()
			_, _ = w.Write(rh[:])
			_ = writeChunk(w, body)
			_ = w.Flush()
		}()
	}
}

// lowerAllThreads sets every thread of this process to helperNice. Linux keeps a nice value
// per thread and a new thread inherits its creator's, so once every existing thread is
// lowered, every later one is too.
func lowerAllThreads() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		_ = unix.Setpriority(unix.PRIO_PROCESS, 0, helperNice)
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, helperNice)
		}
	}
}

// helperRunner sends operations to a helper process, starting it on first use and again after
// it died. While it cannot run (it failed to start, died young, or stopped answering), the
// operations run in-process (fallback) for a backoff that doubles up to a minute, so that a
// login is never refused, nor a password judged wrong, because the helper is gone, and a
// broken helper does not become a fork storm.
type helperRunner struct {
	args     []string
	fallback bcryptRunner
	// timeout bounds one operation on the helper: past it, the helper is taken for stuck.
	timeout func(op bcryptOp) time.Duration
	now     func() time.Time

	mu        sync.Mutex
	proc      *helperProc
	started   time.Time // when proc was started
	backoff   time.Duration
	downUntil time.Time // no new helper before this
	lastWarn  time.Time
}

type helperProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser

	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]chan bcryptResult
	dead    bool
}

// Bounds of the helper's restart backoff, and how long it must live to reset it.
const (
	helperBackoffMin = time.Second
	helperBackoffMax = time.Minute
	helperHealthy    = 30 * time.Second
)

func newHelperRunner(args []string, fallback bcryptRunner) *helperRunner {
	return &helperRunner{args: args, fallback: fallback, timeout: operationTimeout, now: time.Now}
}

// operationTimeout is far above what one operation takes (cost 10: 70 ms, cost 14: a second
// or so; each doubles per cost step), so only a stuck helper reaches it.
func operationTimeout(op bcryptOp) time.Duration {
	return 10*time.Second + time.Duration(1<<max(op.cost-10, 0))*time.Second
}

func (h *helperRunner) run(op bcryptOp) (bcryptResult, error) {
	if op.cost != 0 && (op.cost < bcrypt.MinCost || op.cost > bcrypt.MaxCost) {
		return bcryptResult{}, fmt.Errorf("bcrypt cost %d is outside %d..%d", op.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if len(op.hash) > 0xffff || len(op.plain) > 0xffff {
		return bcryptResult{}, errors.New("bcrypt input too long")
	}
	p, reason, err := h.process()
	if err == nil {
		var res bcryptResult
		if res, reason, err = p.call(op, h.timeout(op)); err == nil {
			return res, nil
		}
		h.died(p)
	}
	metrics.BcryptInProcess.WithLabelValues(reason).Inc()
	h.mu.Lock()
	if h.now().Sub(h.lastWarn) > time.Minute { // a warning a minute, not one per login
		h.lastWarn = h.now()
		logHelperFallback(err)
	}
	h.mu.Unlock()
	return h.fallback.run(op)
}

// died records that p stopped serving: a helper that dies young extends the backoff.
func (h *helperRunner) died(p *helperProc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.diedLocked(p)
}

func (h *helperRunner) diedLocked(p *helperProc) {
	if h.proc != p {
		return
	}
	if h.now().Sub(h.started) < helperHealthy {
		h.backoff = min(max(2*h.backoff, helperBackoffMin), helperBackoffMax)
		h.downUntil = h.now().Add(h.backoff)
	} else {
		h.backoff = 0
	}
	h.proc = nil
}

// process is the running helper, started if there is none and the backoff allows.
func (h *helperRunner) process() (*helperProc, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc != nil && !h.proc.isDead() {
		return h.proc, "", nil
	}
	if h.proc != nil { // died between calls
		h.diedLocked(h.proc)
	}
	if h.now().Before(h.downUntil) {
		return nil, "backoff", errors.New("bcrypt helper restarting after a failure")
	}
	p, err := h.start()
	if err != nil {
		h.backoff = min(max(2*h.backoff, helperBackoffMin), helperBackoffMax)
		h.downUntil = h.now().Add(h.backoff)
		return nil, "unavailable", err
	}
	h.proc, h.started = p, h.now()
	return p, "", nil
}

// start runs the helper: this very binary (/proc/self/exe, so that a binary replaced on disk
// by an upgrade is not the one started), with an environment of its own (not nil, which would
// inherit the service's): no secret of the service reaches it.
func (h *helperRunner) start() (*helperProc, error) {
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(exe, h.args...)
	cmd.Env = []string{}
	for _, name := range []string{"GOMAXPROCS", "GOMEMLIMIT", "GOGC"} {
		if v := os.Getenv(name); v != "" {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	cmd.Stderr = os.Stderr
	// Killed if the thread that started it ends; the closed stdin stops it in every other
	// case (the service stopped or died).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	p := &helperProc{cmd: cmd, in: in, pending: map[uint32]chan bcryptResult{}}
	go p.readAnswers(bufio.NewReader(out))
	return p, nil
}

func (p *helperProc) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// call sends op and waits for its answer, at most timeout: a helper that does not answer
// in time is taken for stuck and stopped (the reason says which failure it was).
func (p *helperProc) call(op bcryptOp, timeout time.Duration) (bcryptResult, string, error) {
	ch := make(chan bcryptResult, 1)
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return bcryptResult{}, "unavailable", errors.New("bcrypt helper stopped")
	}
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()

	var head [6]byte
	binary.BigEndian.PutUint32(head[:4], id)
	if op.compare {
		head[4] = opCompare
	}
	head[5] = byte(op.cost) // 4..31, checked by the runner
	p.wmu.Lock()
	err := func() error {
		if _, err := p.in.Write(head[:]); err != nil {
			return err
		}
		if err := writeChunk(p.in, op.hash); err != nil {
			return err
		}
		return writeChunk(p.in, op.plain)
	}()
	p.wmu.Unlock()
	if err != nil {
		p.fail()
		return bcryptResult{}, "unavailable", fmt.Errorf("bcrypt helper: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res, ok := <-ch:
		if !ok {
			return bcryptResult{}, "unavailable", errors.New("bcrypt helper stopped")
		}
		return res, "", nil
	case <-t.C:
		p.fail()
		return bcryptResult{}, "timeout", fmt.Errorf("bcrypt helper did not answer within %s", timeout)
	}
}

// readAnswers hands each answer to its caller until the helper's output ends.
func (p *helperProc) readAnswers(r *bufio.Reader) {
	defer p.fail()
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		body, err := readChunk(r)
		if err != nil {
			return
		}
		id := binary.BigEndian.Uint32(head[:4])
		var res bcryptResult
		switch head[4] {
		case statusOK:
			res = bcryptResult{hash: body, match: true}
		case statusNoMatch:
			res = bcryptResult{}
		default:
			res = bcryptResult{err: errors.New(string(body))}
		}
		p.mu.Lock()
		ch := p.pending[id]
		delete(p.pending, id)
		p.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}
}

// fail marks the helper dead and releases every caller still waiting (they fall back).
func (p *helperProc) fail() {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return
	}
	p.dead = true
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	_ = p.in.Close()
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	go func() { _ = p.cmd.Wait() }()
}
