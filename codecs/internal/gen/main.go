// Command gen regenerates the catalog code from contracts/*.yaml: catalog_topics.go in the
// module root, codecs/catalog_gen.go and, joined with contracts/policy/client.yaml,
// codecs/client_policy_gen.go. Run it with `go generate ./codecs` (codecs/doc.go); the default
// paths assume the working directory is codecs/, which is where go generate runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
	"github.com/atlasstreams/atlas/codecs/internal/codegen"
	"github.com/atlasstreams/atlas/codecs/internal/policy"
)

func main() {
	contracts := flag.String("contracts", "../contracts", "directory of the catalog YAML files")
	codecsDir := flag.String("codecs", ".", "output directory of "+codegen.CodecsFile)
	rootDir := flag.String("root", "..", "output directory of "+codegen.TopicsFile)
	flag.Parse()
	if err := run(*contracts, *codecsDir, *rootDir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(contracts, codecsDir, rootDir string) error {
	c, err := catalog.Load(contracts)
	if err != nil {
		return err
	}
	out, err := codegen.Generate(c)
	if err != nil {
		return err
	}
	entries, err := policy.Load(c, contracts)
	if err != nil {
		return err
	}
	pol, err := policy.Generate(entries)
	if err != nil {
		return err
	}
	// Write only after everything generated, so a failure leaves the committed files consistent.
	if err := os.WriteFile(filepath.Join(codecsDir, codegen.CodecsFile), out.Codecs, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(codecsDir, policy.OutFile), pol, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(rootDir, codegen.TopicsFile), out.Topics, 0o644)
}
