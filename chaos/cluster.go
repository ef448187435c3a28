package chaos

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/test/kraft"
	"github.com/twmb/franz-go/pkg/kfake"
)

// cluster is the embedded broker behind a fault-injecting proxy, and the account service
// instances running as subprocesses of the atlas binary.
type cluster struct {
	bin     string
	logDir  string
	broker  *kfake.Cluster // nil on an outside broker
	proxy   *proxy         // nil on an outside broker
	release func()         // gives an outside broker back
	kraft   *kraft.Cluster // the replicated cluster of the failover scenario, else nil
	opts    runtime.Options
	sealKey string

	mu        sync.Mutex
	instances []*instance
	started   int
}

type instance struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

// BrokerFunc provides an outside broker for one scenario: its options (with a clean state)
// and the function that gives it back.
type BrokerFunc func(partitions int) (runtime.Options, func(), error)

// newOutsideCluster runs a scenario on a broker it does not own (a real Kafka).
func newOutsideCluster(bin, logDir string, partitions int, broker BrokerFunc) (*cluster, error) {
	opts, release, err := broker(partitions)
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, logDir: logDir, release: release, opts: opts,
		sealKey: base64.StdEncoding.EncodeToString(seal.RandomKey())}
	if _, err := c.opts.EnsureTopics(account.Topics(c.opts)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func newCluster(bin, logDir string, partitions int) (*cluster, error) {
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p, err := newProxy(real.Addr().String())
	if err != nil {
		return nil, err
	}
	used := false
	listen := func(string, string) (net.Listener, error) {
		if used {
			return nil, fmt.Errorf("one broker only")
		}
		used = true
		return advertised{Listener: real, as: p.ln.Addr()}, nil
	}
	b, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(listen), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, logDir: logDir, broker: b, proxy: p,
		sealKey: base64.StdEncoding.EncodeToString(seal.RandomKey())}
	c.opts = runtime.DefaultOptions(p.addr())
	c.opts.Partitions = partitions
	if _, err := c.opts.EnsureTopics(account.Topics(c.opts)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// start runs one more instance of every account group.
func (c *cluster) start() (*instance, error) {
	c.mu.Lock()
	c.started++
	name := fmt.Sprintf("account-%d", c.started)
	c.mu.Unlock()
	logf, err := os.Create(filepath.Join(c.logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin, "account", "--http-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+strings.Join(c.opts.Brokers, ","),
		"ATLAS_REPLICATION="+strconv.Itoa(c.opts.Replication),
		"ATLAS_PASSWORD_SEAL_KEYS="+c.sealKey,
		"ATLAS_BCRYPT_COST=4",
		"ATLAS_TRANSITION_TIMEOUT=1h",
		"ATLAS_LOG_LEVEL=info",
		"ATLAS_CLIENT_ID="+name,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// An instance must not outlive the run that started it, even when the run is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", c.bin, err)
	}
	in := &instance{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { in.done <- cmd.Wait(); logf.Close() }()
	c.mu.Lock()
	c.instances = append(c.instances, in)
	c.mu.Unlock()
	return in, nil
}

// kill stops an instance: SIGKILL (a crash) or SIGTERM (a clean stop).
func (c *cluster) kill(in *instance, sig syscall.Signal) {
	_ = in.cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.instances {
		if x == in {
			c.instances = append(c.instances[:i], c.instances[i+1:]...)
			break
		}
	}
}

func (c *cluster) running() []*instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*instance(nil), c.instances...)
}

// waitGroupsStable waits until every instance is ready and, on the embedded broker, every
// account group has exactly n members, so a scenario starts its load on a settled cluster.
func (c *cluster) waitGroupsStable(ctx context.Context, n int, groups []string) error {
	for _, in := range c.running() {
		if err := c.waitReady(in, 90*time.Second); err != nil {
			return err
		}
	}
	if c.broker == nil {
		return nil
	}
	for _, g := range groups {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		_, err := c.broker.WaitGroupStable(ctx, g, n)
		cancel()
		if err != nil {
			return fmt.Errorf("group %s with %d members: %w", g, n, err)
		}
	}
	return nil
}

func (c *cluster) close() {
	for _, in := range c.running() {
		c.kill(in, syscall.SIGKILL)
	}
	if c.proxy != nil {
		c.proxy.close()
		c.broker.Close()
	}
	if c.release != nil {
		c.release()
	}
}

var httpAddrInLog = regexp.MustCompile(`"http":"([^"]+)"`)

// waitReady waits until the instance's /readyz answers 200. The instance listens on a free
// port, which its start-up log line names.
func (c *cluster) waitReady(in *instance, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := ""
	for time.Now().Before(deadline) {
		if addr == "" {
			for _, l := range c.tailLog(in.name, 50) {
				if m := httpAddrInLog.FindStringSubmatch(l); m != nil && strings.Contains(l, "started") {
					addr = m[1]
				}
			}
		}
		if addr != "" {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case err := <-in.done:
			return fmt.Errorf("%s exited before it was ready: %v (log: %s)", in.name, err, strings.Join(c.tailLog(in.name, 5), " | "))
		case <-time.After(50 * time.Millisecond): // polling its readiness
		}
	}
	return fmt.Errorf("%s not ready after %s", in.name, timeout)
}

// tailLog returns the last lines of an instance's log, for failure reports.
func (c *cluster) tailLog(name string, n int) []string {
	f, err := os.Open(filepath.Join(c.logDir, name+".log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}
