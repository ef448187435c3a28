package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kraftCluster is a throwaway Apache Kafka cluster of n nodes, each broker and KRaft
// controller in one JVM, run from the jars test/kafka/kafka.sh fetches. Topics get three
// replicas and need two in sync, as a production cluster would have them, so that one node
// can die without losing an acknowledged record.
type kraftCluster struct {
	libs, work string
	nodes      []*kraftNode
}

type kraftNode struct {
	id             int
	port, ctrlPort int
	dir            string
	cmd            *exec.Cmd
	done           chan error
}

// startKRaft formats and starts n nodes and waits until every broker is registered.
func startKRaft(libs string, n int, logf func(string, ...any)) (*kraftCluster, error) {
	if _, err := os.Stat(filepath.Join(libs)); err != nil {
		return nil, fmt.Errorf("Kafka's jars: %w", err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("a JDK is needed for the Kafka cluster: %w", err)
	}
	work, err := os.MkdirTemp("", "atlas-kraft-")
	if err != nil {
		return nil, err
	}
	k := &kraftCluster{libs: libs, work: work}
	// Every port at once, so that no two nodes are handed the same one.
	ports, err := freePorts(2 * n)
	if err != nil {
		k.close()
		return nil, err
	}
	for i := 1; i <= n; i++ {
		k.nodes = append(k.nodes, &kraftNode{id: i, port: ports[2*i-2], ctrlPort: ports[2*i-1], dir: filepath.Join(work, fmt.Sprintf("node-%d", i))})
	}
	id, err := clusterID()
	if err != nil {
		k.close()
		return nil, err
	}
	for _, nd := range k.nodes {
		if err := k.format(nd, id); err != nil {
			k.close()
			return nil, err
		}
	}
	logf("  starting a %d-node KRaft cluster (Kafka in %s, work dir %s)", n, libs, work)
	for _, nd := range k.nodes {
		if err := k.run(nd); err != nil {
			k.close()
			return nil, err
		}
	}
	if err := k.awaitBrokers(n, 3*time.Minute); err != nil {
		k.close()
		return nil, err
	}
	return k, nil
}

// freePorts reserves n distinct free ports on the loopback interface and gives them back.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// clusterID is a random Kafka cluster id: 16 bytes in unpadded base64url, never starting
// with "-" (a command line would read it as an option).
func clusterID() (string, error) {
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id, nil
		}
	}
}

func (k *kraftCluster) brokers() []string {
	out := make([]string, len(k.nodes))
	for i, nd := range k.nodes {
		out[i] = fmt.Sprintf("127.0.0.1:%d", nd.port)
	}
	return out
}

func (k *kraftCluster) node(id int) *kraftNode {
	for _, nd := range k.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

func (k *kraftCluster) format(nd *kraftNode, id string) error {
	if err := os.MkdirAll(filepath.Join(nd.dir, "logs"), 0o755); err != nil {
		return err
	}
	voters := make([]string, len(k.nodes))
	for i, o := range k.nodes {
		voters[i] = fmt.Sprintf("%d@127.0.0.1:%d", o.id, o.ctrlPort)
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=%[1]d
controller.quorum.voters=%[2]s
listeners=PLAINTEXT://127.0.0.1:%[3]d,CONTROLLER://127.0.0.1:%[4]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[3]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[5]s/data
auto.create.topics.enable=false
delete.topic.enable=true
default.replication.factor=3
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
# A dead node is fenced, and dropped from the in-sync replicas, within seconds.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=10000
log.segment.bytes=16777216
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
num.recovery.threads.per.data.dir=1
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
auto.leader.rebalance.enable=false
`, nd.id, strings.Join(voters, ","), nd.port, nd.ctrlPort, nd.dir)
	if err := os.WriteFile(filepath.Join(nd.dir, "server.properties"), []byte(props), 0o644); err != nil {
		return err
	}
	log4j := fmt.Sprintf(`status = warn
appender.f.type = File
appender.f.name = f
appender.f.fileName = %s/logs/server.log
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = info
rootLogger.appenderRef.f.ref = f
logger.request.name = kafka.request.logger
logger.request.level = warn
`, nd.dir)
	if err := os.WriteFile(filepath.Join(nd.dir, "log4j2.properties"), []byte(log4j), 0o644); err != nil {
		return err
	}
	out, err := exec.Command("java", "-Xmx256m", "-Dlog4j2.configurationFile="+filepath.Join(nd.dir, "log4j2.properties"),
		"-cp", filepath.Join(k.libs, "*"), "kafka.tools.StorageTool", "format", "--cluster-id="+id,
		"--config", filepath.Join(nd.dir, "server.properties")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("formatting node %d: %v: %s", nd.id, err, out)
	}
	return nil
}

// run starts a node's JVM on its formatted store (a restart keeps the store).
func (k *kraftCluster) run(nd *kraftNode) error {
	out, err := os.OpenFile(filepath.Join(nd.dir, "logs", "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("java", "-Xms128m", "-Xmx384m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+filepath.Join(nd.dir, "log4j2.properties"), "-Dkafka.logs.dir="+filepath.Join(nd.dir, "logs"),
		"-cp", filepath.Join(k.libs, "*"), "kafka.Kafka", filepath.Join(nd.dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = out, out
	// A node must not outlive the run that started it, even when the run is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting Kafka node %d: %w", nd.id, err)
	}
	nd.cmd, nd.done = cmd, make(chan error, 1)
	go func() { nd.done <- cmd.Wait(); out.Close() }()
	return nil
}

// kill9 kills a node as a crash would.
func (k *kraftCluster) kill9(id int) {
	nd := k.node(id)
	if nd == nil || nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
	nd.cmd = nil
}

// restart starts a killed node again on its store.
func (k *kraftCluster) restart(id int) error {
	nd := k.node(id)
	if nd == nil {
		return fmt.Errorf("no Kafka node %d", id)
	}
	if nd.cmd != nil {
		return fmt.Errorf("Kafka node %d still runs", id)
	}
	return k.run(nd)
}

func (k *kraftCluster) close() {
	for _, nd := range k.nodes {
		k.kill9(nd.id)
	}
	if k.work != "" {
		os.RemoveAll(k.work)
	}
}

// metadata asks the cluster for its brokers and, for the topics named, each partition's
// leader and in-sync replicas.
func (k *kraftCluster) metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers()...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	if len(topics) == 0 {
		req.Topics = []kmsg.MetadataRequestTopic{} // no topics, brokers only
	}
	return req.RequestWith(ctx, cl)
}

// awaitBrokers waits until n brokers are registered.
func (k *kraftCluster) awaitBrokers(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		for _, nd := range k.nodes {
			if nd.cmd == nil {
				continue
			}
			select {
			case err := <-nd.done:
				nd.done <- err
				return fmt.Errorf("Kafka node %d exited: %v (see %s)", nd.id, err, filepath.Join(nd.dir, "logs"))
			default:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := k.metadata(ctx)
		cancel()
		if err == nil && len(resp.Brokers) >= n {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d brokers", len(resp.Brokers))
		}
		time.Sleep(250 * time.Millisecond) // polling the cluster's metadata
	}
	return fmt.Errorf("Kafka cluster: %d brokers not registered after %s (%s)", n, timeout, last)
}

// partitionState is a partition's leader and in-sync replicas.
func (k *kraftCluster) partitionState(topic string, partition int32) (leader int32, isr []int32, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := k.metadata(ctx, topic)
	if err != nil {
		return -1, nil, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == partition {
				return p.Leader, p.ISR, nil
			}
		}
	}
	return -1, nil, fmt.Errorf("no partition %s/%d in the metadata", topic, partition)
}

// awaitISR waits until the partition has want in-sync replicas, and a leader.
func (k *kraftCluster) awaitISR(topic string, partition int32, want int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < timeout {
		leader, isr, err := k.partitionState(topic, partition)
		if err == nil && leader >= 0 && len(isr) >= want {
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Millisecond) // polling the cluster's metadata
	}
	return timeout, fmt.Errorf("%s/%d: not %d in-sync replicas after %s", topic, partition, want, timeout)
}

// topicConfig is the value of one of a topic's settings as the cluster applies it.
func (k *kraftCluster) topicConfig(topic, name string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers()...))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{name}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return "", fmt.Errorf("describe %s: %w", topic, err)
		}
		for _, c := range r.Configs {
			if c.Name == name && c.Value != nil {
				return *c.Value, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no %s", topic, name)
}

// options are the product's options on this cluster: every topic with three replicas.
func (k *kraftCluster) options(partitions int) (runtime.Options, func(), error) {
	o := runtime.DefaultOptions(k.brokers()...)
	o.Partitions, o.Replication = partitions, 3
	return o, func() {}, nil
}

// brokerFailover kills, as a crash would, the node that leads partition 0 of the accounts
// table (written on every command) while the load runs, and restarts it later on its store.
// The product's topics have three replicas and need two in sync, and every producer waits
// for all in-sync replicas: nothing acknowledged may be lost, and the two nodes left go on.
func brokerFailover(r *run) (string, error) {
	k := r.c.kraft
	topic := string(atlas.AccountsTable)
	if v, err := k.topicConfig(topic, "min.insync.replicas"); err != nil || v != "2" {
		return "", fmt.Errorf("%s: min.insync.replicas is %q (%v), want 2", topic, v, err)
	}
	r.at(0.3)
	leader, isr, err := k.partitionState(topic, 0)
	if err != nil {
		return "", err
	}
	if leader < 0 || k.node(int(leader)) == nil {
		return "", fmt.Errorf("%s/0 has no leader among the nodes (%d) before the fault", topic, leader)
	}
	if len(isr) != 3 {
		return "", fmt.Errorf("%s/0 has in-sync replicas %v before the fault, want 3", topic, isr)
	}
	k.kill9(int(leader))
	elected := time.Now()
	for {
		l, _, err := k.partitionState(topic, 0)
		if err == nil && l >= 0 && l != leader {
			break
		}
		if time.Since(elected) > time.Minute {
			return "", fmt.Errorf("%s/0: no new leader a minute after node %d died", topic, leader)
		}
		time.Sleep(100 * time.Millisecond) // polling the cluster's metadata
	}
	took := time.Since(elected)
	r.at(0.6)
	if err := k.restart(int(leader)); err != nil {
		return "", err
	}
	back, err := k.awaitISR(topic, 0, 3, 2*time.Minute)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("3 nodes, RF 3, min.insync 2, acks=all: kill -9 node %d (leader of the accounts table's partition 0) at 30%%, new leader in %s; restart at 60%%, in sync again in %s",
		leader, took.Round(100*time.Millisecond), back.Round(100*time.Millisecond)), nil
}
