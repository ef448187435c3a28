package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The command line follows the usual conventions: help on stdout with exit 0, a wrong command
// line exits 2 with its reason on stderr, version from the build info.
func TestCommandLineConventions(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stdout string // a part of it
		stderr string
	}{
		{[]string{"--help"}, 0, "usage: atlas <command>", ""},
		{[]string{"-h"}, 0, "commands:", ""},
		{[]string{"help"}, 0, "version", ""},
		{[]string{"help", "tail"}, 0, "-topic", ""},
		{[]string{"tail", "--help"}, 0, "-topic", ""},
		{[]string{"version"}, 0, "atlas ", ""},
		{nil, 2, "", "usage: atlas"},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"tail", "--nope"}, 2, "", "flag provided but not defined: -nope"},
	} {
		cmd := exec.Command(atlasBin, c.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		what := strings.Join(c.args, " ")
		require.Equal(t, c.code, code, "atlas %s: stderr %s", what, stderr.String())
		require.Contains(t, stdout.String(), c.stdout, "atlas %s", what)
		require.Contains(t, stderr.String(), c.stderr, "atlas %s", what)
		if c.code != 0 && len(c.args) > 0 {
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "atlas %s: one line on stderr, got %q", what, stderr.String())
		}
		if c.code == 0 && c.stdout != "" {
			require.NotContains(t, stderr.String(), c.stdout, "atlas %s: help goes to stdout", what)
		}
	}
	out, err := exec.Command(atlasBin, "version").Output()
	require.NoError(t, err)
	require.Regexp(t, `^atlas \S+ commit \S+( \(modified\))? go1\.\d+`, string(out))
}
