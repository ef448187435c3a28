package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/atlasstreams/atlas/chaos"
)

// runChaos runs the fault scenarios against subprocesses of this binary and prints the table.
func runChaos(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas chaos")
	short := fs.Bool("short", false, "smaller loads (the version make test runs)")
	only := fs.String("only", "", "comma-separated scenario names (default: all)")
	libs := fs.String("kafka-libs", os.Getenv("ATLAS_KAFKA_LIBS"), "folder of Apache Kafka's jars (test/kafka/kafka.sh libs) for broker-failover, which runs a three-node cluster from them; empty: that scenario is skipped (env ATLAS_KAFKA_LIBS)")
	if err := parseFlags(fs, "chaos", args); err != nil {
		return usageError{err}
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o := chaos.Options{Bin: bin, Short: *short, Log: os.Stderr, KafkaLibs: *libs}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	results, err := chaos.Run(ctx, o)
	fmt.Print(chaos.Table(results))
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.OK() {
			return errors.New("a scenario broke a promise (see the table)")
		}
	}
	return nil
}
