// Package kraft runs throwaway Apache Kafka clusters for tests and fault scenarios: n nodes,
// each broker and KRaft controller in one JVM, started from the jars test/kafka/kafka.sh
// fetches. Topics get three replicas when there are three nodes, as a production cluster
// would have them; a cluster may also offer a SASL_SSL listener beside the plaintext one.
package kraft

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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is a throwaway Apache Kafka cluster of n nodes, each broker and KRaft controller in
// one JVM. With three nodes, topics get three replicas by default (the product sets
// min.insync.replicas on its own), as a production cluster would have them.
type Cluster struct {
	libs, work string
	opts       Options
	nodes      []*node
}

// Options add to the cluster.
type Options struct {
	// Secure, when set, gives every node a SASL_SSL client listener beside the plaintext
	// one, with this server certificate and one SCRAM user.
	Secure *Secure
}

// Secure is a SASL_SSL listener: a server certificate and key (PEM files; the key PKCS#8,
// unencrypted) valid for 127.0.0.1, and the SCRAM-SHA-512 user clients log in as.
type Secure struct {
	CertFile, KeyFile string
	User, Password    string
}

type node struct {
	id                         int
	port, ctrlPort, securePort int
	dir                        string
	cmd                        *exec.Cmd
	done                       chan error
}

// Has reports whether the cluster has a node of that id.
func (k *Cluster) Has(id int) bool { return k.node(id) != nil }

// Start formats and starts n nodes and waits until every broker is registered.
func Start(libs string, n int, opts Options, logf func(string, ...any)) (*Cluster, error) {
	if _, err := os.Stat(libs); err != nil {
		return nil, fmt.Errorf("Kafka's jars: %w", err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("a JDK is needed for the Kafka cluster: %w", err)
	}
	work, err := os.MkdirTemp("", "atlas-kraft-")
	if err != nil {
		return nil, err
	}
	k := &Cluster{libs: libs, work: work, opts: opts}
	// Every port at once, so that no two nodes are handed the same one.
	ports, err := freePorts(3 * n)
	if err != nil {
		k.Close()
		return nil, err
	}
	for i := 1; i <= n; i++ {
		k.nodes = append(k.nodes, &node{id: i, port: ports[3*i-3], ctrlPort: ports[3*i-2], securePort: ports[3*i-1],
			dir: filepath.Join(work, fmt.Sprintf("node-%d", i))})
	}
	id, err := clusterID()
	if err != nil {
		k.Close()
		return nil, err
	}
	for _, nd := range k.nodes {
		if err := k.format(nd, id); err != nil {
			k.Close()
			return nil, err
		}
	}
	logf("  starting a %d-node KRaft cluster (Kafka in %s, work dir %s)", n, libs, work)
	for _, nd := range k.nodes {
		if err := k.run(nd); err != nil {
			k.Close()
			return nil, err
		}
	}
	if err := k.awaitBrokers(n, 3*time.Minute); err != nil {
		k.Close()
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

// Brokers are the plaintext listeners' addresses.
func (k *Cluster) Brokers() []string {
	out := make([]string, len(k.nodes))
	for i, nd := range k.nodes {
		out[i] = fmt.Sprintf("127.0.0.1:%d", nd.port)
	}
	return out
}

// SecureBrokers are the SASL_SSL listeners' addresses (Options.Secure).
func (k *Cluster) SecureBrokers() []string {
	out := make([]string, len(k.nodes))
	for i, nd := range k.nodes {
		out[i] = fmt.Sprintf("127.0.0.1:%d", nd.securePort)
	}
	return out
}

func (k *Cluster) node(id int) *node {
	for _, nd := range k.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

func (k *Cluster) format(nd *node, id string) error {
	if err := os.MkdirAll(filepath.Join(nd.dir, "logs"), 0o755); err != nil {
		return err
	}
	voters := make([]string, len(k.nodes))
	for i, o := range k.nodes {
		voters[i] = fmt.Sprintf("%d@127.0.0.1:%d", o.id, o.ctrlPort)
	}
	// Internal topics as replicated as the cluster allows: three replicas, two in sync.
	replicas := min(3, len(k.nodes))
	minISR := max(1, min(2, replicas-1))
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=%[1]d
controller.quorum.voters=%[2]s
log.dirs=%[5]s/data
auto.create.topics.enable=false
delete.topic.enable=true
default.replication.factor=%[6]d
unclean.leader.election.enable=false
offsets.topic.replication.factor=%[6]d
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=%[6]d
transaction.state.log.min.isr=%[7]d
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=%[6]d
share.coordinator.state.topic.min.isr=%[7]d
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
`, nd.id, strings.Join(voters, ","), nd.port, nd.ctrlPort, nd.dir, replicas, minISR)
	props += k.listeners(nd)
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
	args := []string{"-Xmx256m", "-Dlog4j2.configurationFile=" + filepath.Join(nd.dir, "log4j2.properties"),
		"-cp", filepath.Join(k.libs, "*"), "kafka.tools.StorageTool", "format", "--cluster-id=" + id,
		"--config", filepath.Join(nd.dir, "server.properties")}
	if s := k.opts.Secure; s != nil {
		// The SCRAM credential is part of the metadata log from the start.
		args = append(args, "--add-scram", fmt.Sprintf("SCRAM-SHA-512=[name=%s,password=%s]", s.User, s.Password))
	}
	out, err := exec.Command("java", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("formatting node %d: %v: %s", nd.id, err, out)
	}
	return nil
}

// run starts a node's JVM on its formatted store (a restart keeps the store).
func (k *Cluster) run(nd *node) error {
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
func (k *Cluster) Kill9(id int) {
	nd := k.node(id)
	if nd == nil || nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
	nd.cmd = nil
}

// restart starts a killed node again on its store.
func (k *Cluster) Restart(id int) error {
	nd := k.node(id)
	if nd == nil {
		return fmt.Errorf("no Kafka node %d", id)
	}
	if nd.cmd != nil {
		return fmt.Errorf("Kafka node %d still runs", id)
	}
	return k.run(nd)
}

func (k *Cluster) Close() {
	for _, nd := range k.nodes {
		k.Kill9(nd.id)
	}
	if k.work != "" {
		os.RemoveAll(k.work)
	}
}

// metadata asks the cluster for its brokers and, for the topics named, each partition's
// leader and in-sync replicas.
func (k *Cluster) metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
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
func (k *Cluster) awaitBrokers(n int, timeout time.Duration) error {
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
func (k *Cluster) PartitionState(topic string, partition int32) (leader int32, isr []int32, err error) {
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
func (k *Cluster) AwaitISR(topic string, partition int32, want int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < timeout {
		leader, isr, err := k.PartitionState(topic, partition)
		if err == nil && leader >= 0 && len(isr) >= want {
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Millisecond) // polling the cluster's metadata
	}
	return timeout, fmt.Errorf("%s/%d: not %d in-sync replicas after %s", topic, partition, want, timeout)
}

// topicConfig is the value of one of a topic's settings as the cluster applies it.
func (k *Cluster) TopicConfig(topic, name string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
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

// listeners are a node's listener settings: plaintext for clients and between brokers, the
// controller's, and with Options.Secure a SASL_SSL one for clients.
func (k *Cluster) listeners(nd *node) string {
	listeners := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", nd.port, nd.ctrlPort)
	advertised := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", nd.port)
	protocols := "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	extra := ""
	if s := k.opts.Secure; s != nil {
		listeners += fmt.Sprintf(",SECURE://127.0.0.1:%d", nd.securePort)
		advertised += fmt.Sprintf(",SECURE://127.0.0.1:%d", nd.securePort)
		protocols += ",SECURE:SASL_SSL"
		extra = fmt.Sprintf(`listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.certificate.chain=%s
listener.name.secure.ssl.keystore.key=%s
`, pemProperty(s.CertFile), pemProperty(s.KeyFile))
	}
	return fmt.Sprintf(`listeners=%s
advertised.listeners=%s
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=%s
%s`, listeners, advertised, protocols, extra)
}

// pemProperty is a PEM file's content as one properties value (line breaks escaped), as
// Kafka's inline PEM keystore settings take it.
func pemProperty(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\\n")
}
