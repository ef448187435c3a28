package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/stretchr/testify/require"
)

// The short chaos run: scenarios with small loads against subprocesses of a freshly built
// atlas binary. `make chaos` runs the full one.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos scenarios")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "atlas")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/atlas").CombinedOutput()
	require.NoError(t, err, "%s", out)
	// broker-failover runs where Kafka's jars are (make test-kafka) and is skipped elsewhere.
	only := []string{"kill-9", "poison-input", "three-tenants", "broker-failover"}
	if v := os.Getenv("ATLAS_CHAOS_ONLY"); v != "" {
		only = []string{v}
	}
	// Each scenario runs its own cluster and processes; on the embedded broker they run side
	// by side (they mostly wait: for rebalances, restarts and the pipeline to catch up). On a
	// real broker kafkatest gives them the broker in turns.
	for _, name := range only {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := Options{Bin: bin, Short: true, Only: []string{name}, Log: os.Stderr, KafkaLibs: os.Getenv("ATLAS_KAFKA_LIBS")}
			if kafkatest.RealBrokers() != "" {
				// On a real broker (make test-kafka): each scenario gets it clean, through kafkatest.
				o.Broker = func(partitions int) (runtime.Options, func(), error) { return kafkatest.ForMain(partitions) }
			}
			results, err := Run(context.Background(), o)
			require.NoError(t, err)
			t.Log("\n" + Table(results))
			require.Len(t, results, 1)
			r := results[0]
			if r.Skipped != "" {
				t.Skip(r.Skipped)
			}
			require.True(t, r.OK(), "scenario %s broke a promise: %+v", r.Scenario, r)
			require.Positive(t, r.Expected, "scenario %s expected nothing: it tested nothing", r.Scenario)
		})
	}
}
