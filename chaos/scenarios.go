// Package chaos proves what the account service promises under faults: every expected event
// arrives (at least once, re-emissions identical), the tables end as a reference model says,
// bad input is dead-lettered without stopping anything, and no tenant sees another's data.
// Each scenario runs the account service as subprocesses of the atlas binary against an
// embedded broker behind a fault-injecting proxy, drives a scripted load with a plain Kafka
// client, injects its faults in the middle of the load, and checks the outcome.
package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/test/kraft"
	"github.com/google/uuid"
)

// Options size a run.
type Options struct {
	Bin        string // the atlas binary the instances run
	Short      bool   // smaller loads, for `make test`
	Only       []string
	Partitions int
	Log        io.Writer
	// Broker, when set, provides an outside broker (a real Kafka) for each scenario instead of
	// the embedded one. Scenarios that need the embedded broker's proxy are then skipped.
	Broker BrokerFunc
	// KafkaLibs is the folder of Apache Kafka's jars (test/kafka/kafka.sh libs) from which the
	// failover scenario runs a three-node cluster of its own; empty: that scenario is skipped.
	KafkaLibs string
}

// Result is one row of the report.
type Result struct {
	Scenario      string
	Commands      int
	Faults        string
	Expected      int
	Seen          int
	Lost          int
	Duplicated    int
	Unexpected    int
	CrossTenant   int
	StateMismatch int
	DeadLettered  string // poison refused / poison sent
	Skipped       string // why the scenario did not run
	Err           string
	Duration      time.Duration
}

// OK reports whether the scenario kept every promise.
func (r Result) OK() bool {
	return r.Err == "" && r.Lost == 0 && r.Unexpected == 0 && r.CrossTenant == 0 && r.StateMismatch == 0
}

type scenario struct {
	name      string
	instances int
	tenants   int
	fault     func(r *run) (string, error)
	poison    bool
	needProxy bool // cuts connections through the proxy in front of the embedded broker
	needKRaft bool // kills a node of a replicated Kafka cluster (Options.KafkaLibs)
}

var scenarios = []scenario{
	{name: "kill-9", instances: 2, tenants: 1, fault: func(r *run) (string, error) {
		r.at(0.4)
		victim := r.c.running()[0]
		r.c.kill(victim, syscall.SIGKILL)
		time.Sleep(2 * time.Second) // the instance stays dead for a while, as a crashed pod does
		_, err := r.c.start()
		return "SIGKILL 1 of 2 instances, restart", err
	}},
	{name: "rebalance", instances: 2, tenants: 1, fault: func(r *run) (string, error) {
		r.at(0.3)
		third, err := r.c.start()
		if err != nil {
			return "", err
		}
		r.at(0.6)
		r.c.kill(third, syscall.SIGTERM)
		return "3rd instance joins, then leaves", nil
	}},
	{name: "empty-storage-restart", instances: 2, tenants: 1, fault: func(r *run) (string, error) {
		r.at(0.4)
		for _, in := range r.c.running() {
			r.c.kill(in, syscall.SIGKILL)
		}
		for i := 0; i < 2; i++ {
			if _, err := r.c.start(); err != nil {
				return "", err
			}
		}
		return "SIGKILL all, restart with empty storage", nil
	}},
	{name: "broker-connection-loss", instances: 2, tenants: 1, needProxy: true, fault: func(r *run) (string, error) {
		r.at(0.4)
		r.c.proxy.cut()
		time.Sleep(3 * time.Second)
		r.c.proxy.restore()
		return "all connections cut for 3s", nil
	}},
	{name: "broker-failover", instances: 2, tenants: 1, needKRaft: true, fault: brokerFailover},
	{name: "poison-input", instances: 2, tenants: 1, poison: true, fault: func(r *run) (string, error) {
		n, err := r.poison()
		return fmt.Sprintf("%d poison messages", n), err
	}},
	{name: "three-tenants", instances: 2, tenants: 3, fault: func(r *run) (string, error) {
		return "same names and ids in 3 tenants", nil
	}},
}

// run is one scenario in progress.
type run struct {
	o       Options
	c       *cluster
	d       *driver
	col     *collector
	total   int
	tenants []codecs.Tenant
	poisons map[string]string // trace -> what the poison was
}

// at blocks until the given share of the scenario's commands was sent.
func (r *run) at(share float64) {
	for {
		r.d.mu.Lock()
		n := r.d.steps
		r.d.mu.Unlock()
		if float64(n) >= share*float64(r.total) {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the load's progress
	}
}

// Run runs the scenarios and returns one result each.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	var out []Result
	for _, s := range scenarios {
		if len(o.Only) > 0 && !contains(o.Only, s.name) {
			continue
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		logf(o, "scenario %s", s.name)
		out = append(out, runScenario(o, s))
	}
	return out, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func logf(o Options, format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

func runScenario(o Options, s scenario) (res Result) {
	start := time.Now()
	res.Scenario = s.name
	defer func() { res.Duration = time.Since(start) }()
	fail := func(err error) Result { res.Err = err.Error(); return res }

	logDir, err := os.MkdirTemp("", "atlas-chaos-"+s.name)
	if err != nil {
		return fail(err)
	}
	if s.needProxy && o.Broker != nil {
		res.Skipped = "needs the embedded broker's proxy"
		return res
	}
	var c *cluster
	switch {
	case s.needKRaft && o.KafkaLibs == "":
		res.Skipped = "needs Kafka's jars (ATLAS_KAFKA_LIBS; make test-kafka sets it)"
		return res
	case s.needKRaft:
		k, err := kraft.Start(o.KafkaLibs, 3, kraft.Options{}, func(f string, a ...any) { logf(o, f, a...) })
		if err != nil {
			return fail(err)
		}
		defer k.Close()
		c, err = newOutsideCluster(o.Bin, logDir, o.Partitions, kraftOptions(k))
		if c != nil {
			c.kraft = k
		}
	case o.Broker != nil:
		c, err = newOutsideCluster(o.Bin, logDir, o.Partitions, o.Broker)
	default:
		c, err = newCluster(o.Bin, logDir, o.Partitions)
	}
	if err != nil {
		return fail(err)
	}
	defer c.close()
	logf(o, "  starting %d account instance(s)", s.instances)
	for i := 0; i < s.instances; i++ {
		if _, err := c.start(); err != nil {
			return fail(err)
		}
	}
	groups := []string{string(atlas.AccountIngressGroup), string(atlas.AccountNamesGroup), string(atlas.AccountIDsGroup), string(atlas.AccountsGroup), string(atlas.AccountTimersGroup)}
	if err := c.waitGroupsStable(context.Background(), s.instances, groups); err != nil {
		return fail(fmt.Errorf("%w (log of %s: %s)", err, "account-1", strings.Join(c.tailLog("account-1", 5), " | ")))
	}
	col, err := newCollector(c.opts.Brokers)
	if err != nil {
		return fail(err)
	}
	defer col.close()
	d, err := newDriver(c.opts.Brokers, col)
	if err != nil {
		return fail(err)
	}
	defer d.close()

	accounts, rounds := 60, 3
	if o.Short {
		accounts, rounds = 20, 2
	}
	r := &run{o: o, c: c, d: d, col: col, total: accounts * s.tenants * (1 + rounds*6), poisons: map[string]string{}}
	var players []*player
	for t := 0; t < s.tenants; t++ {
		tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
		r.tenants = append(r.tenants, tenant)
		for i := 0; i < accounts; i++ {
			players = append(players, &player{tenant: tenant, mt: mtOf(tenant),
				name: fmt.Sprintf("player-%03d", i)}) // the same names in every tenant
		}
	}

	logf(o, "  %d players in %d tenant(s) playing %d rounds, about %d commands", len(players), s.tenants, rounds, r.total)
	stopProgress := r.progress(5 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(players)+1)
	for i, p := range players {
		wg.Add(1)
		go func(i int, p *player) {
			defer wg.Done()
			if err := d.life(p, rounds, thinker(int64(i)), 90*time.Second); err != nil {
				errs <- err
			}
		}(i, p)
	}
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		f, err := s.fault(r)
		res.Faults = f
		logf(o, "  faults: %s", f)
		if err != nil {
			errs <- fmt.Errorf("fault: %w", err)
		}
	}()
	wg.Wait()
	<-faultDone
	stopProgress()
	close(errs)
	var firstErr error
	for e := range errs {
		if firstErr == nil {
			firstErr = e
		}
	}
	logf(o, "  waiting for every expected event (at most 60s)")
	if err := r.caughtUp(60 * time.Second); err != nil && firstErr == nil {
		firstErr = err
	}
	r.tally(&res)
	if firstErr != nil && res.Err == "" {
		res.Err = firstErr.Error()
	}
	if err := r.checkTables(&res); err != nil && res.Err == "" {
		res.Err = err.Error()
	}
	if !res.OK() {
		for _, in := range []string{"account-1", "account-2"} {
			logf(o, "  last lines of %s: %s", in, strings.Join(c.tailLog(in, 3), " | "))
		}
	}
	return res
}

// progress prints how many commands have been sent every interval until the returned func is
// called: a scenario runs for minutes, and silence would look like a hang.
func (r *run) progress(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.d.mu.Lock()
				sent := r.d.steps
				r.d.mu.Unlock()
				logf(r.o, "  %d of about %d commands sent after %s", sent, r.total, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

// tally compares what was seen with what the model expected, command by command.
func (r *run) tally(res *Result) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.col.mu.Lock()
	defer r.col.mu.Unlock()
	res.Commands = r.d.steps
	for _, c := range r.d.sent {
		seen := r.col.byTrace[c.trace]
		res.Expected += len(c.expected)
		res.Seen += len(seen)
		count := map[string]int{}
		for _, s := range seen {
			count[s.topic+s.json]++
			if s.tenant != c.tenant {
				res.CrossTenant++
			}
		}
		for _, e := range c.expected {
			switch n := count[e.Topic+e.JSON]; {
			case n == 0:
				res.Lost++
			case n > 1:
				res.Duplicated += n - 1
			}
			delete(count, e.Topic+e.JSON)
		}
		for _, n := range count {
			res.Unexpected += n
		}
	}
	if len(r.poisons) > 0 {
		refused := 0
		for trace := range r.poisons {
			if reason, ok := r.col.dlq[trace]; ok && reason != "" {
				refused++
			}
		}
		res.DeadLettered = fmt.Sprintf("%d/%d", refused, len(r.poisons))
		res.Lost += len(r.poisons) - refused
	}
}
