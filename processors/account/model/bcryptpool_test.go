package model

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

func TestBcryptRunsOnLowPriorityThreads(t *testing.T) {
	var prio int
	var err error
	bcryptWorkers.run(func() { prio, err = unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid()) })
	require.NoError(t, err)
	// The raw system call answers 20 - nice.
	require.Equal(t, 20-bcryptNice, prio, "a bcrypt thread runs at nice %d", bcryptNice)
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
