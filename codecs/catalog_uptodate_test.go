package codecs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/atlasstreams/atlas/codecs/internal/codegen"
	"github.com/atlasstreams/atlas/codecs/internal/policy"
)

// TestCatalogGeneratedUpToDate regenerates from contracts/*.yaml into a temporary directory and
// compares with the committed files, so a catalog or client policy edit without `go generate ./codecs` fails.
func TestCatalogGeneratedUpToDate(t *testing.T) {
	c := loadCatalog(t)
	out, err := codegen.Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := policy.Load(c, contractsDir)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Generate(entries)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []struct {
		committed, name string
		src             []byte
	}{
		{codegen.CodecsFile, codegen.CodecsFile, out.Codecs},
		{filepath.Join("..", codegen.TopicsFile), codegen.TopicsFile, out.Topics},
		{policy.OutFile, policy.OutFile, pol},
	} {
		fresh := filepath.Join(dir, f.name)
		if err := os.WriteFile(fresh, f.src, 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(fresh)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./codecs` (fresh output: %s)", f.committed, fresh)
		}
	}
}
