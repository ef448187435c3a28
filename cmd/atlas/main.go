// Command atlas is the one binary of Atlas Streams. Each subcommand runs one part of the
// product; `atlas dev` runs all of them on an embedded broker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

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
	"bench":    {"measure the pipeline against its limits (--quick: under a minute)", runBench},
	"chaos":    {"fault scenarios against subprocesses on an embedded broker, with a table of outcomes", runChaos},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: atlas <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\n`atlas <command> -h` lists a command's flags.")
}

func main() {
	logrus.SetFormatter(&logrus.JSONFormatter{})
	if lvl, err := logrus.ParseLevel(os.Getenv("ATLAS_LOG_LEVEL")); err == nil {
		logrus.SetLevel(lvl)
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "atlas: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	// SIGTERM and SIGINT end the context: in-flight callbacks finish, offsets are committed,
	// and the command returns.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "atlas %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
