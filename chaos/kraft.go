package chaos

import (
	"fmt"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/test/kraft"
)

// kraftOptions are the product's options on k: every topic with three replicas.
func kraftOptions(k *kraft.Cluster) BrokerFunc {
	return func(partitions int) (runtime.Options, func(), error) {
		o := runtime.DefaultOptions(k.Brokers()...)
		o.Partitions, o.Replication = partitions, 3
		return o, func() {}, nil
	}
}

// brokerFailover kills, as a crash would, the node that leads partition 0 of the accounts
// table (written on every command) while the load runs, and restarts it later on its store.
// The product's topics have three replicas and need two in sync, and every producer waits
// for all in-sync replicas: nothing acknowledged may be lost, and the two nodes left go on.
func brokerFailover(r *run) (string, error) {
	k := r.c.kraft
	topic := string(atlas.AccountsTable)
	if v, err := k.TopicConfig(topic, "min.insync.replicas"); err != nil || v != "2" {
		return "", fmt.Errorf("%s: min.insync.replicas is %q (%v), want 2", topic, v, err)
	}
	r.at(0.3)
	leader, isr, err := k.PartitionState(topic, 0)
	if err != nil {
		return "", err
	}
	if leader < 0 || !k.Has(int(leader)) {
		return "", fmt.Errorf("%s/0 has no leader among the nodes (%d) before the fault", topic, leader)
	}
	if len(isr) != 3 {
		return "", fmt.Errorf("%s/0 has in-sync replicas %v before the fault, want 3", topic, isr)
	}
	k.Kill9(int(leader))
	elected := time.Now()
	for {
		l, _, err := k.PartitionState(topic, 0)
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
	if err := k.Restart(int(leader)); err != nil {
		return "", err
	}
	back, err := k.AwaitISR(topic, 0, 3, 2*time.Minute)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("3 nodes, RF 3, min.insync 2, acks=all: kill -9 node %d (leader of the accounts table's partition 0) at 30%%, new leader in %s; restart at 60%%, in sync again in %s",
		leader, took.Round(100*time.Millisecond), back.Round(100*time.Millisecond)), nil
}
