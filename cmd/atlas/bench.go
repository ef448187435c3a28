package main

import (
	"context"
	"fmt"
	"os"

	"github.com/atlasstreams/atlas/bench"
	"github.com/atlasstreams/atlas/processors/runtime"
)

// runBench measures the pipeline in this process, on an embedded broker or against --brokers.
func runBench(_ context.Context, args []string) error {
	fs := newFlagSet("atlas bench")
	quick := fs.Bool("quick", false, "a run of under a minute with smaller loads")
	out := fs.String("out", "bench/out", "folder for bench.json and latency.png")
	partitions := fs.Int("partitions", 12, "partitions of every topic")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the last round of the session-command burst (figure 1) to this file (go tool pprof)")
	brokers := fs.String("brokers", "", "run against these brokers (comma-separated; KAFKA_TLS_* and KAFKA_SASL_* apply) instead of an embedded one")
	if err := parseFlags(fs, "bench", args); err != nil {
		return usageError{err}
	}
	rep, err := bench.Run(bench.Options{Quick: *quick, OutDir: *out, Partitions: *partitions, Log: os.Stderr,
		Brokers: runtime.ParseBrokers(*brokers), CPUProfile: *profile})
	if err != nil {
		return err
	}
	// Figures on stdout, progress and logs on stderr.
	fmt.Print(rep.Table())
	fmt.Printf("\nwritten: %s/bench.json, %s/latency.png\n", *out, *out)
	fmt.Println(rep.RatioLine())
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d step(s) failed (FAILED rows above)", len(rep.Failed))
	}
	return nil
}
