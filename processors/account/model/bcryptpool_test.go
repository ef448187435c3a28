package model

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

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
	require.False(t, h.warned, "no fallback was needed")

	// A helper that dies is replaced, and meanwhile nothing is judged wrong.
	require.NoError(t, h.proc.cmd.Process.Kill())
	for range 3 {
		res, err := h.run(bcryptOp{compare: true, hash: hash.hash, plain: []byte("secret")})
		require.NoError(t, err)
		require.True(t, res.match, "a killed helper never turns a right password into a wrong one")
	}
	require.NotEqual(t, pid, h.proc.cmd.Process.Pid, "a new helper was started")
	h.proc.fail()
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
