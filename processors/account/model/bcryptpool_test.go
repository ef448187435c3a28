package model

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestMain lets this test binary be its own bcrypt helper, as the atlas binary is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bcrypt-helper" {
		if err := ServeBcryptHelper(os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// niceOf reads the nice value of every thread of a process from /proc.
func niceOf(t *testing.T, pid int) []int {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	require.NoError(t, err)
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/stat")
		require.NoError(t, err)
		// Fields after the command's closing parenthesis: state is field 3; nice is 19.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		n, err := strconv.Atoi(fields[19-3])
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

// bcrypt runs in a helper process whose every thread is at the lowest priority, and the
// service's own GOMAXPROCS is left alone.
func TestBcryptRunsInALowPriorityHelper(t *testing.T) {
	local := newLocalRunner()
	h := newHelperRunner([]string{"bcrypt-helper"}, local)
	before := runtime.GOMAXPROCS(0)
	hash, err := h.run(bcryptOp{cost: bcrypt.MinCost, plain: []byte("secret")})
	require.NoError(t, err)
	require.NoError(t, hash.err)
	ok, err := h.run(bcryptOp{compare: true, hash: hash.hash, plain: []byte("secret")})
	require.NoError(t, err)
	require.True(t, ok.match)
	no, err := h.run(bcryptOp{compare: true, hash: hash.hash, plain: []byte("other")})
	require.NoError(t, err)
	require.False(t, no.match)
	require.Equal(t, before, runtime.GOMAXPROCS(0), "GOMAXPROCS is never raised")

	pid := h.proc.cmd.Process.Pid
	nices := niceOf(t, pid)
	require.NotEmpty(t, nices)
	for _, n := range nices {
		require.Equal(t, helperNice, n, "every thread of the helper runs at nice %d: %v", helperNice, nices)
	}
	require.True(t, h.lastWarn.IsZero(), "no fallback was needed")

	// A helper that dies is replaced, and meanwhile nothing is judged wrong.
	require.NoError(t, h.proc.cmd.Process.Kill())
	for range 3 {
		res, err := h.run(bcryptOp{compare: true, hash: hash.hash, plain: []byte("secret")})
		require.NoError(t, err)
		require.True(t, res.match, "a killed helper never turns a right password into a wrong one")
	}
	// It died young: the next helper waits out a backoff, meanwhile bcrypt runs in-process.
	require.Nil(t, h.proc)
	require.False(t, h.downUntil.IsZero())
	h.now = func() time.Time { return h.downUntil.Add(time.Millisecond) }
	res, err := h.run(bcryptOp{compare: true, hash: hash.hash, plain: []byte("secret")})
	require.NoError(t, err)
	require.True(t, res.match)
	require.NotNil(t, h.proc, "after the backoff a new helper was started")
	require.NotEqual(t, pid, h.proc.cmd.Process.Pid)
	h.proc.fail()
}

// A helper that stops answering (stopped, frozen) is given up after the operation's timeout,
// and the operation runs in-process: a stuck helper never stalls a login.
func TestAStuckHelperIsGivenUp(t *testing.T) {
	h := newHelperRunner([]string{"bcrypt-helper"}, newLocalRunner())
	h.timeout = func(bcryptOp) time.Duration { return 300 * time.Millisecond }
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	require.NoError(t, err)
	res, err := h.run(bcryptOp{compare: true, hash: hash, plain: []byte("secret")})
	require.NoError(t, err)
	require.True(t, res.match)
	p := h.proc
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGSTOP))
	defer func() { _ = p.cmd.Process.Kill() }()
	start := time.Now()
	res, err = h.run(bcryptOp{compare: true, hash: hash, plain: []byte("secret")})
	require.NoError(t, err)
	require.True(t, res.match, "answered in-process")
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, p.isDead(), "the stuck helper was given up")
}

// Inputs the protocol cannot carry are refused before anything is written: the shared helper
// is not killed for one bad operation, and a cost out of range never becomes a weak hash.
func TestBadOperationsAreRefusedUpFront(t *testing.T) {
	h := newHelperRunner([]string{"bcrypt-helper"}, newLocalRunner())
	_, err := h.run(bcryptOp{cost: 260, plain: []byte("x")})
	require.Error(t, err)
	_, err = h.run(bcryptOp{compare: true, hash: []byte("h"), plain: make([]byte, 70000)})
	require.Error(t, err)
	require.Nil(t, h.proc, "no helper was even started for them")
}

func TestPasswordsWorkConcurrently(t *testing.T) {
	pw := Passwords{Cost: bcrypt.MinCost}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := pw.Hash([]byte("secret"))
			require.NoError(t, err)
			require.True(t, pw.Matches(h, []byte("secret")))
			require.False(t, pw.Matches(h, []byte("other")))
		}()
	}
	wg.Wait()
}
