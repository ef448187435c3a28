// Package bench measures the account pipeline against its limits, each figure side by side
// with a baseline measured in the same run (the machines are noisy, so only ratios compare).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"golang.org/x/crypto/bcrypt"
)

// Options choose the size of the run.
type Options struct {
	Quick      bool   // under a minute: smaller loads, same figures
	OutDir     string // where bench.json and latency.png go
	Partitions int
	Log        io.Writer // progress lines
	// Brokers: run against these brokers (with the security KAFKA_TLS_* and KAFKA_SASL_*
	// configure) instead of an embedded one, so the pipeline does not share its process with
	// the broker. Topics the bench makes for itself get a name of this run.
	Brokers []string
	// CPUProfile: write a CPU profile of figure 1's last pipeline round to this file (no
	// baseline runs during it).
	CPUProfile string
}

// Figure is one measured figure with its baseline.
type Figure struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline,omitempty"`
	Against  string  `json:"against,omitempty"`
	Ratio    float64 `json:"ratio"`
	Target   string  `json:"target"`
	Met      bool    `json:"met"`
}

// Report is a whole run.
type Report struct {
	Started   time.Time `json:"started"`
	Quick     bool      `json:"quick"`
	GoVersion string    `json:"goVersion"`
	Cores     int       `json:"cores"`
	Figures   []Figure  `json:"figures"`
	// Latency percentiles in milliseconds of every latency series, by series name.
	Latencies map[string]map[string]float64 `json:"latenciesMs"`
	// Failed lists the figures that could not be measured, and why.
	Failed []Failure `json:"failed,omitempty"`
	series map[string][]time.Duration
}

// Failure is a step of the run that failed: the figures it would have given, and why.
type Failure struct {
	Figures string `json:"figures"`
	Why     string `json:"why"`
}

type sizes struct {
	players, throughput, steadySeconds, logins, storm, isolationRate, recovery, fanoutEvents, entries int
	apiAccounts, apiRequests, rounds                                                                  int
}

func (o Options) sizes() sizes {
	if o.Quick {
		return sizes{players: 500, throughput: 20000, steadySeconds: 4, logins: 48, storm: 64, isolationRate: 500, recovery: 200000, fanoutEvents: 2000, entries: 1000, apiAccounts: 300000, apiRequests: 200, rounds: 3}
	}
	return sizes{players: 2000, throughput: 100000, steadySeconds: 15, logins: 200, storm: 200, isolationRate: 500, recovery: 1000000, fanoutEvents: 10000, entries: 5000, apiAccounts: 300000, apiRequests: 1000, rounds: 3}
}

// Run runs every figure and writes the report. A figure that fails is reported with why
// (Report.Failed) and the others still run; only a broker or service that cannot start at all
// ends the run.
func Run(o Options) (*Report, error) {
	if o.Partitions == 0 {
		o.Partitions = 12
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	z := o.sizes()
	rep := &Report{Started: time.Now(), Quick: o.Quick, GoVersion: runtime.Version(), Cores: runtime.NumCPU(),
		Latencies: map[string]map[string]float64{}, series: map[string][]time.Duration{}}
	// step runs one figure; a failure is recorded under its figures' names and logged.
	step := func(names string, f func() error) {
		if err := f(); err != nil {
			logf("   FAILED %s: %v", names, err)
			rep.Failed = append(rep.Failed, Failure{Figures: names, Why: err.Error()})
		}
	}

	s, err := newStack(o.Partitions, o.Brokers)
	if err != nil {
		return nil, err
	}
	defer s.close()

	// Session commands need no bcrypt; the transition timeout is long so that a backlog of
	// queued commands does not expire the sessions it is about to move.
	logf("starting the account service (bcrypt cost %d) on %d partitions", bcrypt.MinCost, o.Partitions)
	if err := s.startService(bcrypt.MinCost, time.Minute); err != nil {
		return nil, err
	}
	logf("setting up %d players", z.players)
	players, playersErr := setupPlayers(s, z.players)
	needPlayers := func(f func() error) func() error {
		if playersErr != nil {
			return func() error { return fmt.Errorf("no players to drive: %w", playersErr) }
		}
		return f
	}

	// The steady-rate latency runs first: the embedded broker keeps every record in this
	// process's heap, and after the burst below its garbage collection costs the pipeline time
	// that a broker in another process would not.
	logf("4. latency at a steady 2000 commands/s for %ds", z.steadySeconds)
	step("steady_p99_ms", needPlayers(func() error {
		lat, _, err := players.run(2000*z.steadySeconds, 2000, 2*time.Minute)
		if err != nil {
			return err
		}
		rep.series["steady 2000/s"] = lat
		p99 := percentile(lat, 99)
		rep.add(Figure{Name: "steady_p99_ms", Value: ms(p99), Unit: "ms", Baseline: 20, Against: "target 20 ms",
			Ratio: ms(p99) / 20, Target: "p99 <= 20 ms", Met: ms(p99) <= 20})
		return nil
	}))

	logf("1. session commands: %d as fast as possible, against a pass-through processor, %d rounds", z.throughput, z.rounds)
	step("session_throughput", needPlayers(func() error {
		pass, err := startPassThrough(s, players)
		if err != nil {
			return err
		}
		defer pass.close()
		// A round of each first, not measured: a processor's first burst also pays for its
		// producers' partition connections and its consumers' first fetches, which made a
		// fresh pass-through look three times slower than it runs, and this figure as many
		// times better.
		if _, err := pass.measure(z.throughput, players.headers); err != nil {
			return err
		}
		if _, _, err := players.run(z.throughput, 0, 3*time.Minute); err != nil {
			return err
		}
		// The skeleton copies the records the pipeline just wrote, and gets its own warm-up.
		// Without it the other figures still stand: its failure is its own.
		skelFigures := "skeleton_throughput session_vs_skeleton"
		skelFailed := func(err error) {
			logf("   FAILED %s: %v", skelFigures, err)
			rep.Failed = append(rep.Failed, Failure{Figures: skelFigures, Why: err.Error()})
		}
		skel, err := startSkeleton(s, pass.keys)
		if err == nil {
			defer skel.close()
			_, _, err = skel.measure(pass.keys, pass.msgs, z.throughput, players.headers)
		}
		if err != nil {
			skelFailed(err)
			skel = nil
		}
		before, err := s.recordsWritten(context.Background())
		if err != nil {
			return err
		}
		profile, err := openCPUProfile(o.CPUProfile)
		if err != nil {
			return err
		}
		defer profile.stop() // a second stop, or one never started, does nothing
		// Rounds of the baselines and the pipeline in turn, each figure being the round of its
		// median ratio: one burst of each takes a second or less here, and a pause of the
		// machine in any moves a single round's ratio by a third.
		var rounds []throughputRound
		for r := 0; r < z.rounds; r++ {
			base, err := pass.measure(z.throughput, players.headers)
			if err != nil {
				return err
			}
			var bare float64
			if skel != nil {
				if bare, _, err = skel.measure(pass.keys, pass.msgs, z.throughput, players.headers); err != nil {
					skelFailed(err)
					skel = nil
				}
			}
			// The CPU profile covers the pipeline's last round only, none of the baselines.
			last := r == z.rounds-1
			if last {
				if err := profile.start(); err != nil {
					return err
				}
			}
			lat, took, err := players.run(z.throughput, 0, 3*time.Minute)
			if last {
				profile.stop()
			}
			if err != nil {
				return err
			}
			rate := float64(z.throughput) / took.Seconds()
			rounds = append(rounds, throughputRound{rate: rate, base: base, skeleton: bare, lat: lat})
			logf("   round %d: %.0f commands/s against %.0f messages/s: %.3f (skeleton %.0f/s: %.3f)", r+1, rate, base, rate/base, bare, bare/base)
		}
		// What each command made the broker store: its own record, the internal hop, the
		// table write, the events, the timer records. The pass-through stores two.
		if after, err := s.recordsWritten(context.Background()); err == nil {
			per := float64(after-before) / float64(z.throughput*z.rounds) // the baselines' topics are not counted
			rep.add(Figure{Name: "records_per_command", Value: per, Unit: "records", Baseline: 2, Against: "pass-through processor: 2 per message",
				Ratio: per / 3, Target: "<= 3", Met: per <= 3})
		}
		m := medianRound(rounds)
		rep.add(Figure{Name: "session_throughput", Value: m.rate, Unit: "commands/s", Baseline: m.base, Against: "pass-through processor, messages/s",
			Ratio: m.rate / m.base, Target: ">= 0.3 (0.5 later)", Met: m.rate/m.base >= 0.3})
		if skel != nil {
			// The pipeline's records without the product's code, against each baseline.
			k := medianBy(rounds, func(r throughputRound) float64 { return r.skeleton / r.base })
			rep.add(Figure{Name: "skeleton_throughput", Value: k.skeleton, Unit: "commands/s", Baseline: k.base, Against: "pass-through processor, messages/s",
				Ratio: k.skeleton / k.base, Target: "reported", Met: true})
			v := medianBy(rounds, func(r throughputRound) float64 { return r.rate / r.skeleton })
			rep.add(Figure{Name: "session_vs_skeleton", Value: v.rate, Unit: "commands/s", Baseline: v.skeleton, Against: "skeleton (the same records, no product code), commands/s",
				Ratio: v.rate / v.skeleton, Target: "reported", Met: true})
		}
		rep.series["burst"] = m.lat
		return nil
	}))

	logf("restarting the account service with bcrypt cost %d", bcrypt.DefaultCost)
	if err := s.startService(bcrypt.DefaultCost, time.Minute); err != nil {
		return nil, err
	}
	limit, one := bcryptLimit(bcrypt.DefaultCost)
	logf("2. logins at cost %d: one comparison takes %s, limit %.1f/s on %d cores", bcrypt.DefaultCost, one.Round(time.Millisecond), limit, rep.Cores)
	var lrate float64
	step("login_rate", func() error {
		logins := newLoginLoad(s)
		if err := logins.create("l", z.logins); err != nil {
			return err
		}
		took, err := logins.login("l", z.logins)
		if err != nil {
			return err
		}
		lrate = float64(z.logins) / took.Seconds()
		rep.add(Figure{Name: "login_rate", Value: lrate, Unit: "logins/s", Baseline: limit, Against: "cores / time of one bcrypt comparison",
			Ratio: lrate / limit, Target: ">= 0.8", Met: lrate/limit >= 0.8})
		rep.series["logins (cost 10)"] = append([]time.Duration(nil), logins.lat...)
		return nil
	})

	logf("8. query API over %d accounts of one tenant: first page alone, random pages from 8 clients, logins beside it", z.apiAccounts)
	step("api_first_page_p99_ms api_concurrent_p99_ms api_login_rate", func() error {
		if lrate == 0 {
			return fmt.Errorf("no login_rate of this run to compare with")
		}
		return apiFigures(s, rep, lrate, z, logf)
	})

	logf("3. isolation: session commands at %d/s, quiet, then during a storm of %d logins", z.isolationRate, z.storm)
	step("isolation_p99_ratio", needPlayers(func() error {
		quiet, _, err := players.run(z.isolationRate*2, float64(z.isolationRate), time.Minute)
		if err != nil {
			return err
		}
		storm := newLoginLoad(s)
		stormDone := make(chan error, 1)
		go func() { _, err := storm.login("storm", z.storm); stormDone <- err }()
		// Keep the session load running for as long as the storm saturates bcrypt.
		stormSeconds := float64(z.storm) * one.Seconds() / float64(rep.Cores)
		busy, _, err := players.run(int(stormSeconds*float64(z.isolationRate))+1, float64(z.isolationRate), 2*time.Minute)
		if serr := <-stormDone; err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		qp, bp := percentile(quiet, 99), percentile(busy, 99)
		rep.series["isolation quiet"], rep.series["isolation storm"] = quiet, busy
		rep.add(Figure{Name: "isolation_p99_ratio", Value: ms(bp), Unit: "ms", Baseline: ms(qp), Against: "p99 without the storm",
			Ratio: ms(bp) / ms(qp), Target: "<= 5 and p99 <= 50 ms", Met: ms(bp)/ms(qp) <= 5 && ms(bp) <= 50})
		return nil
	}))
	s.stopService()

	logf("6. channel fan-out: %d map chat events to %d sessions in one map", z.fanoutEvents, 200)
	step("fanout_deliveries", func() error {
		fo, err := fanOut(s, 200, z.fanoutEvents)
		if err != nil {
			return err
		}
		rep.add(Figure{Name: "fanout_deliveries", Value: fo, Unit: "deliveries/s", Baseline: 100000, Against: "target 100,000 deliveries/s",
			Ratio: fo / 100000, Target: ">= 100000 deliveries/s", Met: fo >= 100000})
		return nil
	})

	logf("7. channel entry: %d ticket checks, then %d entries over WebSocket", z.entries*4, z.entries)
	step("ticket_checks entries", func() error {
		checks, bare, err := ticketChecks(z.entries * 4)
		if err != nil {
			return err
		}
		rep.add(Figure{Name: "ticket_checks", Value: checks, Unit: "checks/s (one core)", Baseline: bare, Against: "bare Ed25519 verifications/s of the same bytes",
			Ratio: checks / bare, Target: ">= 0.5", Met: checks/bare >= 0.5})
		ent, err := entries(z.entries, 8)
		if err != nil {
			return err
		}
		rep.add(Figure{Name: "entries", Value: ent, Unit: "entries/s (dial, ticket, entered)", Baseline: checks, Against: "ticket checks/s on one core",
			Ratio: ent / checks, Target: "<= 0.5 (the ticket check is not the bottleneck)", Met: ent/checks <= 0.5})
		return nil
	})

	logf("5. recovery of a %d-account table", z.recovery)
	var rr recoveryResult
	step("recovery_rate", func() error {
		var err error
		if rr, err = recovery(s, z.recovery); err != nil {
			return err
		}
		// The ratio is to the target, as the last line's keys promise; the plain consumer's
		// rate is the baseline beside it.
		rep.add(Figure{Name: "recovery_rate", Value: rr.RecoverPerSec, Unit: "records/s", Baseline: rr.RawReadPerSec, Against: "plain consumer reading the table, records/s",
			Ratio: rr.RecoverPerSec / 200000, Target: ">= 200000 records/s", Met: rr.RecoverPerSec >= 200000})
		return nil
	})

	sealer, _ := seal.New(seal.RandomKey())
	accBytes, nameBytes := storedSizes(model.Passwords{Cost: bcrypt.MinCost, Sealer: sealer})
	if rr.HeapBytesPerRec > 0 {
		rep.add(Figure{Name: "bytes_per_account", Value: float64(accBytes + nameBytes), Unit: "bytes (accounts + names, key and value)",
			Baseline: rr.HeapBytesPerRec, Against: "heap bytes per account record held by an in-memory view",
			Ratio: rr.HeapBytesPerRec / float64(accBytes), Target: "reported", Met: true})
	}

	for name, l := range rep.series {
		rep.Latencies[name] = map[string]float64{"p50": ms(percentile(l, 50)), "p99": ms(percentile(l, 99)), "p999": ms(percentile(l, 99.9)), "max": ms(percentile(l, 100))}
	}
	if o.OutDir != "" {
		if err := rep.write(o.OutDir); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *Report) add(f Figure) { r.Figures = append(r.Figures, f) }

// cpuProfile is a CPU profile file, opened first so that a bad path fails before any
// measurement, and written over one span of the run (a nil one does nothing).
type cpuProfile struct{ f *os.File }

func openCPUProfile(path string) (*cpuProfile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &cpuProfile{f: f}, nil
}

func (p *cpuProfile) start() error {
	if p == nil {
		return nil
	}
	return pprof.StartCPUProfile(p.f)
}

// stop ends the profile and closes its file.
func (p *cpuProfile) stop() {
	if p != nil {
		pprof.StopCPUProfile()
		p.f.Close()
	}
}

// throughputRound is one round of figure 1: the pipeline's rate, the baseline's, and the
// pipeline's command latencies.
type throughputRound struct {
	rate, base, skeleton float64
	lat                  []time.Duration
}

// medianRound is the round of the median ratio of pipeline to pass-through (the lower middle
// one of an even count).
func medianRound(rounds []throughputRound) throughputRound {
	return medianBy(rounds, func(r throughputRound) float64 { return r.rate / r.base })
}

// medianBy is the round of the median of ratio (the lower middle one of an even count).
func medianBy(rounds []throughputRound, ratio func(throughputRound) float64) throughputRound {
	sorted := append([]throughputRound(nil), rounds...)
	sort.Slice(sorted, func(i, j int) bool { return ratio(sorted[i]) < ratio(sorted[j]) })
	return sorted[(len(sorted)-1)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), b, 0o644); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, "latency.png"), r.series)
}

// Table renders the figures for a terminal.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %14s %-28s %14s %8s  %-22s %s\n", "figure", "value", "unit", "baseline", "ratio", "target", "met")
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "%-22s %14.2f %-28s %14.2f %8.3f  %-22s %v\n", f.Name, f.Value, trim(f.Unit, 28), f.Baseline, f.Ratio, f.Target, f.Met)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(&b, "%-22s %14s  %s\n", f.Figures, "FAILED", f.Why)
	}
	names := make([]string, 0, len(r.Latencies))
	for n := range r.Latencies {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "\n%-22s %10s %10s %10s %10s\n", "latency (ms)", "p50", "p99", "p999", "max")
	for _, n := range names {
		l := r.Latencies[n]
		fmt.Fprintf(&b, "%-22s %10.2f %10.2f %10.2f %10.2f\n", n, l["p50"], l["p99"], l["p999"], l["max"])
	}
	return b.String()
}

// RatioLine is every ratio as name=value pairs, the last line `atlas bench` prints; a figure
// that failed is name=failed. A figure whose value is in milliseconds gives its ratio under
// *_ratio (steady_p99_ms -> steady_p99_ratio): a key names what it holds.
func (r *Report) RatioLine() string {
	parts := make([]string, 0, len(r.Figures))
	for _, f := range r.Figures {
		parts = append(parts, fmt.Sprintf("%s=%.3f", ratioKey(f.Name), f.Ratio))
	}
	measured := map[string]bool{}
	for _, f := range r.Figures {
		measured[f.Name] = true
	}
	for _, f := range r.Failed {
		for _, n := range strings.Fields(f.Figures) {
			// A step that failed after some of its figures were measured keeps those: each
			// key is on the line once, with its ratio or as failed.
			if !measured[n] {
				measured[n] = true
				parts = append(parts, ratioKey(n)+"=failed")
			}
		}
	}
	return strings.Join(parts, " ")
}

func ratioKey(name string) string {
	if n, ok := strings.CutSuffix(name, "_ms"); ok {
		return n + "_ratio"
	}
	return name
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
