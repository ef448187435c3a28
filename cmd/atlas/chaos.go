package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/atlasstreams/atlas/chaos"
)

// runChaos runs the fault scenarios against subprocesses of this binary and prints the table.
func runChaos(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("atlas chaos", flag.ContinueOnError)
	short := fs.Bool("short", false, "smaller loads (the version `make test` runs)")
	only := fs.String("only", "", "comma-separated scenario names (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o := chaos.Options{Bin: bin, Short: *short, Log: os.Stderr}
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
