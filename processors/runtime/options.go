// Package runtime turns configuration into running Goka processors, views and emitters: Kafka
// client settings tuned for this product, local storage, topic creation, and a supervisor
// that restarts a processor whose Run failed.
package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
)

// Options are the Kafka and storage settings shared by every processor of a process.
type Options struct {
	Brokers []string
	// StorageDir holds the local copies of tables (LevelDB), one sub-folder per group. Empty:
	// tables are kept in memory and recovered from Kafka at each start.
	StorageDir string
	// Replication of the topics this product creates (1 on a single broker).
	Replication int
	// Partitions of the topics this product creates.
	Partitions int
	// FlushFrequency bounds how long a produced message may wait for its batch. Goka's default
	// of 100 ms adds 100 ms to every hop.
	FlushFrequency time.Duration
	// AcksAll waits for every in-sync replica (real clusters); otherwise the leader only.
	AcksAll bool
	// ClientID prefixes the Kafka client ids of this process.
	ClientID string
	// MaxRecordBytes is the largest record the processors may write (0: recordsize.Default).
	// Services learn it from the cluster at start (LearnRecordLimit); it becomes the
	// producers' batch limit (franz-go's ProducerBatchMaxBytes) and the limit callbacks check
	// against.
	MaxRecordBytes int
	// Contracts is the contract era the product writes (codecs.EraSeed, the default, or
	// codecs.EraCurrent); it reads both eras in either.
	Contracts string
	// Security is TLS and SASL for every client of the process (zero: plaintext).
	Security Security
}

// DefaultOptions are the options for a broker at brokers.
func DefaultOptions(brokers ...string) Options {
	return Options{
		Brokers:        brokers,
		Replication:    1,
		Partitions:     12,
		FlushFrequency: time.Millisecond,
		AcksAll:        true,
		ClientID:       "atlas",
		Contracts:      codecs.EraSeed,
	}
}

// OptionsFromEnv reads KAFKA_BROKERS and the ATLAS_* variables documented in the README.
func OptionsFromEnv() (Options, error) {
	o := DefaultOptions(ParseBrokers(os.Getenv("KAFKA_BROKERS"))...)
	var errs []string
	if p := atlas.NamePrefix; strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || len(p) > 100 {
		errs = append(errs, fmt.Sprintf("ATLAS_NAME_PREFIX=%q: want at most 100 of the characters Kafka topic names allow (letters, digits, . _ -)", p))
	}
	if v := os.Getenv("ATLAS_STORAGE_DIR"); v != "" {
		o.StorageDir = v
	}
	for _, iv := range []struct {
		name string
		dst  *int
	}{{"ATLAS_REPLICATION", &o.Replication}, {"ATLAS_PARTITIONS", &o.Partitions}} {
		if v := os.Getenv(iv.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a whole number of at least 1", iv.name, v))
				continue
			}
			*iv.dst = n
		}
	}
	if v := os.Getenv("ATLAS_FLUSH_FREQUENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxFlushFrequency {
			errs = append(errs, fmt.Sprintf("ATLAS_FLUSH_FREQUENCY=%q: want a duration such as 1ms, at most %s", v, maxFlushFrequency))
		}
		o.FlushFrequency = d
	}
	if v := os.Getenv("ATLAS_ACKS"); v != "" {
		switch v {
		case "all", "-1":
			o.AcksAll = true
		case "1", "leader":
			o.AcksAll = false
		default:
			errs = append(errs, fmt.Sprintf("ATLAS_ACKS=%q: want all or 1", v))
		}
	}
	if v := os.Getenv("ATLAS_CONTRACTS"); v != "" {
		if err := CheckContracts(v); err != nil {
			errs = append(errs, "ATLAS_CONTRACTS="+strconv.Quote(v)+": "+err.Error())
		}
		o.Contracts = v
	}
	sec, err := SecurityFromEnv(os.Getenv)
	if err != nil {
		errs = append(errs, err.Error())
	}
	o.Security = sec
	if v := os.Getenv("ATLAS_CLIENT_ID"); v != "" {
		o.ClientID = v
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("kafka configuration: %s", strings.Join(errs, "; "))
	}
	return o, nil
}

// CheckContracts checks a contracts setting: seed or current.
func CheckContracts(era string) error {
	if era != codecs.EraSeed && era != codecs.EraCurrent {
		return fmt.Errorf("want %s (the formats of the services this product was built against, the default) or %s (current upstream Atlas)", codecs.EraSeed, codecs.EraCurrent)
	}
	return nil
}

// ParseBrokers reads a comma-separated broker list (the form of KAFKA_BROKERS), dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Sarama is the configuration of the Sarama clients Goka still uses: consumers, consumer
// groups and topic managers. The producers are franz-go's (ProducerBuilder).
func (o Options) Sarama(initialOffset int64) *sarama.Config {
	c := goka.DefaultConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = o.ClientID
	c.Consumer.Offsets.Initial = initialOffset
	c.Metadata.RefreshFrequency = 30 * time.Second
	o.Security.applySarama(c)
	return c
}

func (o Options) topicManagerConfig() *goka.TopicManagerConfig {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = o.Replication
	tm.Stream.Replication = o.Replication
	tm.Stream.Retention = 7 * 24 * time.Hour
	return tm
}

func (o Options) storage(group string) storage.Builder {
	if o.StorageDir == "" {
		return MemStorageBuilder()
	}
	return storage.DefaultBuilder(filepath.Join(o.StorageDir, sanitize(group)))
}

// viewFolders counts the views of each table this process opened: two views of one table
// in one process (`atlas dev` runs the API's registry view and the channel's) must not share
// a LevelDB folder, which only one may lock.
var viewFolders = struct {
	sync.Mutex
	n map[goka.Table]int
}{n: map[goka.Table]int{}}

// viewFolder is the storage folder of the next view of table: "view-TABLE" for the first,
// "view-TABLE-2" for the second, and so on. A process starts its views in the same order
// each time, so each view finds its own local copy again after a restart.
func viewFolder(table goka.Table) string {
	viewFolders.Lock()
	defer viewFolders.Unlock()
	viewFolders.n[table]++
	if n := viewFolders.n[table]; n > 1 {
		return fmt.Sprintf("view-%s-%d", table, n)
	}
	return "view-" + string(table)
}

// sanitize makes a group name usable as a folder name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// ProcessorOptions configures a processor of group: its streams start at initialOffset
// (sarama.OffsetOldest for services that must not miss a command, OffsetNewest for channels).
func (o Options) ProcessorOptions(group goka.Group, initialOffset int64) []goka.ProcessorOption {
	cfg := o.Sarama(initialOffset)
	return []goka.ProcessorOption{
		goka.WithClientID(o.ClientID + "-" + sanitize(string(group))),
		goka.WithStorageBuilder(o.storage(string(group))),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(o.Sarama(initialOffset), o.topicManagerConfig())),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(cfg)),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(o.Sarama(initialOffset))),
		goka.WithProducerBuilder(o.ProducerBuilder()),
		goka.WithLogger(gokaLogger{component: string(group)}),
	}
}

// ViewOptions configures a view of a table.
func (o Options) ViewOptions(table goka.Table) []goka.ViewOption {
	return []goka.ViewOption{
		goka.WithViewClientID(o.ClientID + "-view-" + sanitize(string(table))),
		goka.WithViewStorageBuilder(o.storage(viewFolder(table))),
		goka.WithViewTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(o.Sarama(sarama.OffsetOldest), o.topicManagerConfig())),
		goka.WithViewConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(o.Sarama(sarama.OffsetOldest))),
		goka.WithViewLogger(gokaLogger{component: "view " + string(table)}),
		goka.WithViewAutoReconnect(),
	}
}

// EmitterOptions configures an emitter.
func (o Options) EmitterOptions(name string) []goka.EmitterOption {
	return []goka.EmitterOption{
		goka.WithEmitterClientID(o.ClientID + "-emitter-" + sanitize(name)),
		goka.WithEmitterProducerBuilder(o.ProducerBuilder()),
		goka.WithEmitterTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(o.Sarama(sarama.OffsetNewest), o.topicManagerConfig())),
		goka.WithEmitterLogger(gokaLogger{component: "emitter " + name}),
	}
}

// SecretFromEnv reads a setting that holds a secret or a key: the variable name itself, or
// the file that name_FILE names (a mounted Kubernetes secret). Both set is an error; errors
// never quote the value.
func SecretFromEnv(getenv func(string) string, name string) (string, error) {
	v, file := getenv(name), getenv(name+"_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: give one", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %v", name, err)
		}
		return string(b), nil
	}
	return v, nil
}
