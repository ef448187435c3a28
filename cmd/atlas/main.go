// Command atlas is the one binary of Atlas Streams. Each subcommand runs one part of the
// product; `atlas dev` runs all of them on an embedded broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"syscall"
	"time"

	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/tracing"

	"github.com/sirupsen/logrus"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"dev":      {"everything on an embedded Kafka-protocol broker, with the HTTP API", runDev},
	"account":  {"the account service's groups against KAFKA_BROKERS", runAccount},
	"registry": {"the account registry group against KAFKA_BROKERS", runRegistry},
	"api":      {"the HTTP query API over views of the tables, against KAFKA_BROKERS", runAPI},
	"channel":  {"a channel instance (SERVICE_ID, CHANNEL_*) against KAFKA_BROKERS", runChannel},
	"login":    {"development login server: log in, move toward a channel, print the entry ticket", runLogin},
	"client":   {"enter a channel with an entry ticket over WebSocket; frames as JSON lines", runClient},
	"topics":   {"create missing topics on KAFKA_BROKERS and report mismatches", runTopics},
	"emit":     {"send one message given as JSON, with tenant headers", runEmit},
	"tail":     {"print a topic's messages as JSON lines", runTail},
	"lag":      {"each consumer group's lag per partition (committed offset against the end)", runLag},
	"dlq":      {"the dead-letter topic: list, show, or replay chosen records to where they came from", runDLQ},
	"bench":    {"measure the pipeline against its limits (--quick: under a minute)", runBench},
	"chaos":    {"fault scenarios against subprocesses on an embedded broker, with a table of outcomes", runChaos},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: atlas <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-9s %s\n", "help", "this list, or `atlas help <command>`: a command's flags and environment")
	fmt.Fprintf(w, "  %-9s %s\n", "version", "the module version, commit and Go version of this binary")
	fmt.Fprintln(w, "\n`atlas <command> -h` lists a command's flags.")
}

// traced are the commands that run the product's processors and gateways: they export spans
// when OTEL_TRACES_EXPORTER asks for it.
var traced = map[string]bool{"dev": true, "account": true, "registry": true, "api": true, "channel": true}

// usageError is a command line that does not parse (an unknown flag, a bad value): exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Exit codes, as shells and supervisors read them.
const (
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // the command line is wrong
)

// bcryptHelperArg runs the binary as the account service's bcrypt helper (model.ServeBcryptHelper):
// a process of low priority that the service starts itself. It is not a command for people.
const bcryptHelperArg = "__bcrypt-helper"

func main() {
	if len(os.Args) == 2 && os.Args[1] == bcryptHelperArg {
		if err := model.ServeBcryptHelper(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "atlas bcrypt helper: %v\n", err)
			os.Exit(exitFailure)
		}
		return
	}
	model.UseBcryptHelper(bcryptHelperArg)
	logrus.SetFormatter(&logrus.JSONFormatter{})
	if lvl, err := logrus.ParseLevel(os.Getenv("ATLAS_LOG_LEVEL")); err == nil {
		logrus.SetLevel(lvl)
	}
	os.Exit(run(os.Args[1:]))
}

// run runs one command line and returns the exit code: 0 for help and success, 2 for a wrong
// command line, 1 for a failure, always with one line on stderr saying why.
func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			return run([]string{args[1], "-h"})
		}
		usage(os.Stdout)
		return 0
	case "version", "--version":
		fmt.Println(versionLine())
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "atlas: unknown command %q (atlas help lists them)\n", args[0])
		return exitUsage
	}
	if helpAsked(args[1:]) {
		usageOut = os.Stdout // asked for, the usage is the command's output
	}
	// SIGTERM and SIGINT end the context: in-flight callbacks finish, offsets are committed,
	// and the command returns.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if traced[args[0]] && !helpAsked(args[1:]) {
		shutdown, err := tracing.Setup(context.Background(), "atlas-"+args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "atlas %s: %v\n", args[0], err)
			return exitFailure
		}
		defer func() {
			// Flush the last spans, within a bound: a dead collector must not hold the exit.
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = shutdown(c)
		}()
	}
	err := cmd.run(ctx, args[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "atlas %s: %v (atlas help %s lists its flags)\n", args[0], err, args[0])
		return exitUsage
	}
	fmt.Fprintf(os.Stderr, "atlas %s: %v\n", args[0], err)
	return exitFailure
}

// usageOut is where a command's flag usage goes: stdout when help was asked for, nowhere
// otherwise, so that a wrong command line is answered with one line on stderr.
var usageOut io.Writer = io.Discard

// newFlagSet is a command's flag set: errors are returned, usage goes to usageOut.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	return fs
}

// helpAsked reports whether a command's arguments ask for its help (before any "--").
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// versionLine is the build's module version, VCS commit and Go version, from the build info.
func versionLine() string {
	version, commit, modified := "(devel)", "unknown", ""
	goVersion := goruntime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	return fmt.Sprintf("atlas %s commit %s%s %s", version, commit, modified, goVersion)
}
