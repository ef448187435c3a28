package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// firstLook is the README's first-look block: the shell block after its marker comment.
var firstLook = regexp.MustCompile("(?s)<!-- first-look[^>]*-->\\s*```sh\\n(.*?)```")

// The README's first look works pasted as one block: against a fresh `atlas dev`, bob logs
// in, the API serves his account, and the client enters the channel with his ticket.
func TestReadmeFirstLook(t *testing.T) { firstLookIn(t, "seed") }

// The same block in the current contracts, as an outside client of current upstream's formats
// would do it: the account is created on COMMAND_TOPIC_ACCOUNT, the login carries a hwid, the
// channel announces itself on EVENT_TOPIC_CHANNEL_STATUS; nothing is dead-lettered.
func TestReadmeFirstLookCurrentContracts(t *testing.T) { firstLookIn(t, "current") }

func firstLookIn(t *testing.T, contracts string) {
	if testing.Short() {
		t.Skip("runs atlas dev")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the first look uses curl, which this machine lacks")
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := firstLook.FindSubmatch(readme)
	require.NotNil(t, m, "README.md has no first-look block")
	block := string(m[1])

	devDir := t.TempDir()
	t.Setenv("ATLAS_DEV_DIR", devDir) // atlas dev writes its key there, atlas login reads it
	kafka, httpBase := devStack(t, "ATLAS_CONTRACTS="+contracts)

	// Run where bin/atlas is this build, with the addresses this dev stack got.
	work := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(work, "bin"), 0o755))
	require.NoError(t, os.Symlink(atlasBin, filepath.Join(work, "bin", "atlas")))
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", block)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "KAFKA_BROKERS=", "ATLAS_KAFKA_LISTEN="+kafka,
		"ATLAS_HTTP_LISTEN="+strings.TrimPrefix(httpBase, "http://"), "ATLAS_DEV_DIR="+devDir, "ATLAS_CONTRACTS="+contracts)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out []string
	want := map[string]*regexp.Regexp{
		"the login line":        regexp.MustCompile(`^\{"accountId":1,"sessionId":"[0-9a-f-]{36}","characterId":42,"ticket":"eyJ[^"]+","address":"127\.0\.0\.1:\d+"\}$`),
		"bob created":           regexp.MustCompile(`"value":\{"account_id":1,"name":"bob","status":"CREATED"\}`),
		"bob's account via API": regexp.MustCompile(`"name":"bob"`),
		"entered":               regexp.MustCompile(`^\{"op":"entered",.*"accountId":1,"characterId":42,.*"channelId":1\}$`),
	}
	timeout := time.After(2 * time.Minute)
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the block ended before the client entered:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
			out = append(out, l)
			for what, re := range want {
				if re.MatchString(l) {
					delete(want, what)
				}
			}
		case <-timeout:
			t.Fatalf("still waiting for %v after 2 minutes:\n%s\nstderr:\n%s", want, strings.Join(out, "\n"), stderr.String())
		}
	}
	require.Zero(t, metricValueAt(t, httpBase, "atlas_messages_in_total", `outcome="dead_letter"`), "nothing was dead-lettered")
	require.Positive(t, metricValueAt(t, httpBase, "atlas_messages_in_total", `outcome="ok"`))
}
