package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readsVariable finds a variable read by name in Go source: os.Getenv("X"), getenv("X"),
// os.LookupEnv("X"), envOr("X", ...), SecretFromEnv(getenv, "X"), intVar("X", ...).
var readsVariable = regexp.MustCompile(`(?:Getenv|getenv|LookupEnv|envOr|SecretFromEnv\(\w+(?:\.\w+)?, |intVar|durVar|bad)\("([A-Z][A-Z0-9_]+)"`)

// Every variable the product reads is a setting in the table (and so in --help), a topic or
// group name, or one of the tests' own: no setting exists that an operator cannot find.
func TestEveryVariableTheProductReadsIsASetting(t *testing.T) {
	var unknown []string
	seen := 0
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "test" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range readsVariable.FindAllSubmatch(b, -1) {
			name := string(m[1])
			seen++
			if !knownVariable(name) && !testVariable(name) && !slices.Contains(unknown, name) {
				unknown = append(unknown, name+" ("+path+")")
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, seen, 60, "the pattern finds the product's reads")
	require.Empty(t, unknown, "read by the product but not in the settings table (cmd/atlas/settings.go)")
}

// A command's help lists every setting it reads, with its flag and default.
func TestHelpListsTheSettingsOfTheCommand(t *testing.T) {
	for command := range commandSettings {
		out, err := exec.Command(atlasBin, "help", command).Output()
		require.NoError(t, err, command)
		for _, s := range settingsOf(command) {
			require.Regexp(t, `(?m)^  `+s.Env+` +`, string(out), "atlas help %s lists %s", command, s.Env)
		}
		require.NotContains(t, string(out), "`", "atlas help %s: a backquote in a usage string garbles the flag's line", command)
	}
	out, err := exec.Command(atlasBin, "help", "account").Output()
	require.NoError(t, err)
	require.Regexp(t, `(?m)^  ATLAS_BCRYPT_COST +--bcrypt-cost +10 +bcrypt cost`, string(out))
	require.Regexp(t, `(?m)^  ATLAS_PASSWORD_SEAL_KEYS +\(secret\) `, string(out))
}

// A flag given wins over its variable, and a bad value stops start-up naming the setting.
func TestAFlagWinsOverItsVariableAndBadValuesNameTheSetting(t *testing.T) {
	run := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(atlasBin, args...)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return stderr.String(), code
	}
	brokers := "KAFKA_BROKERS=127.0.0.1:1"
	stderr, code := run([]string{brokers, "ATLAS_BCRYPT_COST=10"}, "account", "--bcrypt-cost", "99")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, `ATLAS_BCRYPT_COST="99"`, "the flag's value, named by its setting")
	stderr, code = run([]string{brokers, "ATLAS_API_RATE=fast", "ATLAS_API_TOKENS=" + e2eAPIToken}, "api")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, `ATLAS_API_RATE="fast"`)
	stderr, code = run(nil, "account", "--kafka-sasl-password", "x")
	require.Equal(t, 2, code, "a secret is never a flag")
	require.Contains(t, stderr, "flag provided but not defined")
}

// A variable that looks like a setting but is none is warned about: a misspelt setting would
// otherwise be ignored in silence.
func TestAMisspeltSettingIsWarnedAbout(t *testing.T) {
	cmd := exec.Command(atlasBin, "account", "--bcrypt-cost", "99")
	// Kubernetes' service links of Services named atlas-api and kafka are not settings.
	cmd.Env = append(os.Environ(), "KAFKA_BROKERS=127.0.0.1:1", "ATLAS_BCRYPT_CSOT=12", "ATLAS_API_SERVICE_HOST=10.0.0.1",
		"ATLAS_API_PORT=tcp://10.0.0.1:8080", "ATLAS_API_PORT_8080_TCP_ADDR=10.0.0.1", "KAFKA_PORT=tcp://10.0.0.2:9092", "KAFKA_SERVICE_PORT_KAFKA=9092")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	require.Contains(t, stderr.String(), `"variables":"ATLAS_BCRYPT_CSOT"`, "one warning naming the misspelt one only")
	require.Contains(t, stderr.String(), "not settings of atlas")
	require.Equal(t, 2, strings.Count(stderr.String(), "\n"), "the warning and the error: %s", stderr.String())
}

// A boolean setting is a flag without a value; a bad log level stops start-up.
func TestBooleanSettingsAndTheLogLevel(t *testing.T) {
	cmd := exec.Command(atlasBin, "account", "--kafka-tls", "--kafka-sasl-mechanism", "PLAIN", "--brokers", "127.0.0.1:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.Error(t, cmd.Run())
	require.NotContains(t, stderr.String(), "in the clear", "--kafka-tls took no value and turned TLS on: %s", stderr.String())
	out, err := exec.Command(atlasBin, "lag", "--log-level", "loud").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `ATLAS_LOG_LEVEL="loud"`)
}
