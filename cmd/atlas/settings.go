package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/sirupsen/logrus"
)

// The configuration layer. Every setting of the product is a row below: one environment
// variable (its name), one flag (the same setting on the command line; a flag given wins over
// the variable), one documented default, and the commands that read it. A command binds the
// groups it reads (parseFlags): `atlas help <command>` lists their rows, and a flag given is
// put into the environment before anything reads it, so that every parser of the product
// (each reads variables and names the variable in its errors) sees one source.
//
// Written here rather than taken from ff or cobra: both derive a variable from each flag's
// name, and this product's variable names are fixed by the deployments and upstream services
// that share them (KAFKA_BROKERS, SERVICE_ID, CHANNEL_*, and one variable per topic), which
// neither could keep without renaming half of them.

// setting is one row of the table.
type setting struct {
	Env     string
	Flag    string // empty: derived from Env (ATLAS_API_RATE -> api-rate); "-": no flag
	Default string // as documented; the parser that reads the setting applies it
	Usage   string
	// Secret settings are read from the environment or from the file NAME_FILE names, never
	// from a flag: a command line is visible to every user of the machine.
	Secret bool
	// Bool settings are flags that take no value (--kafka-tls, --kafka-tls=false).
	Bool bool
}

func (s setting) flagName() string {
	switch {
	case s.Secret || s.Flag == "-":
		return ""
	case s.Flag != "":
		return s.Flag
	}
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(s.Env, "ATLAS_"), "_", "-"))
}

// Groups of settings, by what reads them.
var (
	kafkaSettings = []setting{
		{Env: "KAFKA_BROKERS", Flag: "brokers", Default: "required (the tools: 127.0.0.1:9092)", Usage: "comma-separated host:port list"},
		{Env: "KAFKA_TLS", Bool: true, Default: "false", Usage: "TLS to the brokers with the system's CAs (implied by KAFKA_TLS_CA_FILE)"},
		{Env: "KAFKA_TLS_CA_FILE", Usage: "PEM file of the CA that signed the brokers' certificates"},
		{Env: "KAFKA_TLS_CERT_FILE", Usage: "PEM client certificate for mutual TLS (with KAFKA_TLS_KEY_FILE)"},
		{Env: "KAFKA_TLS_KEY_FILE", Usage: "PEM key of the client certificate"},
		{Env: "KAFKA_TLS_SERVER_NAME", Usage: "name the brokers' certificates must carry, when not their host"},
		{Env: "KAFKA_SASL_MECHANISM", Usage: "PLAIN (refused without TLS), SCRAM-SHA-256 or SCRAM-SHA-512"},
		{Env: "KAFKA_SASL_USERNAME", Usage: "SASL user"},
		{Env: "KAFKA_SASL_PASSWORD", Secret: true, Usage: "SASL password (or KAFKA_SASL_PASSWORD_FILE)"},
	}
	runtimeSettings = []setting{
		{Env: "ATLAS_CONTRACTS", Flag: "contracts", Default: codecs.EraSeed, Usage: "contract era the services write: seed or current (both are read)"},
		{Env: "ATLAS_PARTITIONS", Default: "12", Usage: "partitions of the topics the product creates"},
		{Env: "ATLAS_REPLICATION", Default: "1", Usage: "replication of the topics the product creates (from 3: min.insync.replicas a majority)"},
		{Env: "ATLAS_FLUSH_FREQUENCY", Default: "1ms", Usage: "producer batching delay (at most 1m)"},
		{Env: "ATLAS_ACKS", Default: "all", Usage: "all (idempotent producer) or 1"},
		{Env: "ATLAS_CLIENT_ID", Default: "atlas", Usage: "prefix of the Kafka client ids"},
		{Env: "ATLAS_STORAGE_DIR", Default: "(memory)", Usage: "folder of local LevelDB copies of tables, one folder per group"},
		{Env: "ATLAS_NAME_PREFIX", Flag: "-", Usage: "put before every topic and group name its own variable does not set (read at start: environment only)"},
	}
	logSettings = []setting{
		{Env: "ATLAS_LOG_LEVEL", Default: "info", Usage: "logrus level (trace, debug, info, warn, error); logs are JSON on stderr"},
	}
	httpSettings = []setting{
		{Env: "ATLAS_HTTP_LISTEN", Flag: "http-listen", Default: ":8080 (127.0.0.1:8080 in atlas dev)", Usage: "address of /metrics, /healthz, /readyz and, for atlas api and atlas dev, /api/ and /console/"},
	}
	apiSettings = []setting{
		{Env: "ATLAS_API_TOKENS", Secret: true, Default: "required by atlas api; none in atlas dev (open)", Usage: "bearer tokens of the query API (or ATLAS_API_TOKENS_FILE), TENANT_UUID=TOKEN scopes one to a tenant"},
		{Env: "ATLAS_API_RATE", Default: "50", Usage: "requests per second per API client (token, else address)"},
		{Env: "ATLAS_API_BURST", Default: "100", Usage: "burst per API client"},
		{Env: "ATLAS_CHANNEL_TTL", Default: "30s", Usage: "how long a channel that stopped announcing itself still counts as up"},
	}
	accountSettings = []setting{
		{Env: "ATLAS_PASSWORD_SEAL_KEYS", Secret: true, Default: "required; random per process in atlas dev", Usage: "base64 32-byte keys, comma-separated: the first seals login passwords, all open (or ATLAS_PASSWORD_SEAL_KEYS_FILE)"},
		{Env: "ATLAS_BCRYPT_COST", Default: "10", Usage: "bcrypt cost of new passwords"},
		{Env: "ATLAS_AUTO_REGISTER", Bool: true, Default: "true", Usage: "a login with an unknown name creates the account"},
		{Env: "ATLAS_LOGIN_ATTEMPT_LIMIT", Default: "5", Usage: "failed password checks that lock an account within the window"},
		{Env: "ATLAS_LOGIN_ATTEMPT_WINDOW", Default: "10m", Usage: "the window of failed password checks"},
		{Env: "ATLAS_NAME_CHARSET", Default: "ascii", Usage: "what account names may be made of: ascii or unicode"},
		{Env: "ATLAS_TRANSITION_TIMEOUT", Default: "5s (60s in atlas dev)", Usage: "how long a session may stay in transition"},
		{Env: "ATLAS_TIMER_SHARDS", Default: "64", Usage: "rows per timer slot"},
		{Env: "ATLAS_TIMER_TICK", Default: "1s", Usage: "timer slot length: how often deadlines are checked"},
	}
	channelSettings = []setting{
		{Env: "SERVICE_ID", Default: "required (random in atlas dev)", Usage: "the channel instance's uuid"},
		{Env: "CHANNEL_TENANT_ID", Default: "required (00000000-0000-4000-8000-000000000001 in atlas dev)", Usage: "the tenant served"},
		{Env: "CHANNEL_REGION", Default: "GMS", Usage: "the tenant's region"},
		{Env: "CHANNEL_MAJOR_VERSION", Default: "83", Usage: "the tenant's major version"},
		{Env: "CHANNEL_MINOR_VERSION", Default: "1", Usage: "the tenant's minor version"},
		{Env: "CHANNEL_WORLD_ID", Default: "0", Usage: "world id"},
		{Env: "CHANNEL_CHANNELS", Flag: "channels", Default: "0:7575 (1:7575,2:7576 in atlas dev)", Usage: "channel ids and their WebSocket ports, id:port,... (port 0: a free one)"},
		{Env: "CHANNEL_LISTEN_HOST", Default: "all interfaces (127.0.0.1 in atlas dev)", Usage: "the address the ports are opened on"},
		{Env: "CHANNEL_HOST", Default: "127.0.0.1", Usage: "the host clients are told"},
		{Env: "CHANNEL_HEARTBEAT_INTERVAL", Default: "10s", Usage: "heartbeat period"},
		{Env: "CHANNEL_MAX_CAPACITY", Default: "1000", Usage: "sessions per channel"},
		{Env: "CHANNEL_SEND_QUEUE", Default: "256", Usage: "frames a client may have waiting before it is disconnected"},
		{Env: "CHANNEL_PEERS", Usage: "other instances' channels for change_channel, id=host:port,..."},
		{Env: "CHANNEL_ORIGINS", Usage: "browser origins allowed to connect (comma-separated host patterns)"},
		{Env: "CHANNEL_TICKET_VERIFY_KEYS", Secret: true, Default: "required (the development key in atlas dev)", Usage: "public keys that verify entry tickets (or CHANNEL_TICKET_VERIFY_KEYS_FILE)"},
		{Env: "CHANNEL_TRANSFER_KEY", Secret: true, Usage: "private key that signs channel-change tickets (or CHANNEL_TRANSFER_KEY_FILE)"},
		{Env: "CHANNEL_MAX_CONNECTIONS", Default: "10000", Usage: "sockets the instance holds"},
		{Env: "CHANNEL_ENTER_TIMEOUT", Default: "10s", Usage: "time to enter, at most 15s"},
		{Env: "CHANNEL_PING_INTERVAL", Default: "20s", Usage: "keep-alive ping period"},
		{Env: "CHANNEL_PONG_TIMEOUT", Default: "10s", Usage: "time to answer a ping"},
		{Env: "CHANNEL_FRAME_RATE", Default: "30", Usage: "frames per second per connection"},
		{Env: "CHANNEL_FRAME_BURST", Default: "60", Usage: "frame burst per connection"},
		{Env: "CHANNEL_STRIKE_BURST", Default: "60", Usage: "over-rate frames in a row before the connection closes"},
		{Env: "CHANNEL_MAX_FRAME_BYTES", Default: "65536", Usage: "largest frame"},
	}
	devSettings = []setting{
		{Env: "ATLAS_KAFKA_LISTEN", Flag: "kafka-listen", Default: "127.0.0.1:9092", Usage: "address of the embedded broker of atlas dev (the tools' default brokers too)"},
		{Env: "ATLAS_DEV_DIR", Default: ".atlas-dev (else ATLAS_STORAGE_DIR)", Usage: "where atlas dev keeps its development ticket key, which atlas login reads"},
	}
	loginSettings = []setting{
		{Env: "ATLAS_LOGIN_PASSWORD", Secret: true, Usage: "the password, instead of --password"},
		{Env: "ATLAS_LOGIN_SIGNING_KEY_FILE", Flag: "key-file", Default: "the development key", Usage: "ticket signing key file, PEM or base64"},
		{Env: "ATLAS_LOGIN_SIGNING_KEY", Secret: true, Usage: "the ticket signing key itself, instead of a file"},
	}
	clientSettings = []setting{
		{Env: "ATLAS_TICKET", Secret: true, Usage: "the entry ticket, instead of --ticket"},
	}
	chaosSettings = []setting{
		{Env: "ATLAS_KAFKA_LIBS", Flag: "kafka-libs", Usage: "folder of Apache Kafka's jars for broker-failover"},
	}
	// The standard OpenTelemetry variables: environment only, as every OTel SDK reads them.
	tracingSettings = []setting{
		{Env: "OTEL_TRACES_EXPORTER", Flag: "-", Default: "none", Usage: "otlp exports spans; none (or unset) keeps tracing off"},
		{Env: "OTEL_EXPORTER_OTLP_ENDPOINT", Flag: "-", Usage: "collector URL"},
		{Env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Flag: "-", Usage: "collector URL for traces, instead of OTEL_EXPORTER_OTLP_ENDPOINT"},
		{Env: "OTEL_EXPORTER_OTLP_PROTOCOL", Flag: "-", Default: "http/protobuf", Usage: "http/protobuf or grpc"},
		{Env: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Flag: "-", Usage: "the protocol for traces, instead of OTEL_EXPORTER_OTLP_PROTOCOL"},
		{Env: "OTEL_SERVICE_NAME", Flag: "-", Default: "atlas-<command>", Usage: "service.name of the spans"},
	}
)

// without is settings less the named ones.
func without(settings []setting, names ...string) []setting {
	var out []setting
	for _, s := range settings {
		if !slices.Contains(names, s.Env) {
			out = append(out, s)
		}
	}
	return out
}

// kafkaSecuritySettings are the Kafka settings but the brokers (for atlas bench, whose
// --brokers chooses between the embedded broker and others).
func kafkaSecuritySettings() []setting { return kafkaSettings[1:] }

// commandSettings are the groups each command reads.
var commandSettings = map[string][][]setting{
	"dev":      {logSettings, without(runtimeSettings, "ATLAS_REPLICATION"), httpSettings, apiSettings, accountSettings, channelSettings, devSettings, tracingSettings},
	"account":  {logSettings, kafkaSettings, runtimeSettings, httpSettings, accountSettings, tracingSettings},
	"registry": {logSettings, kafkaSettings, runtimeSettings, httpSettings, tracingSettings},
	"api":      {logSettings, kafkaSettings, runtimeSettings, httpSettings, apiSettings, tracingSettings},
	"channel":  {logSettings, kafkaSettings, runtimeSettings, httpSettings, channelSettings, tracingSettings},
	"topics":   {logSettings, kafkaSettings, runtimeSettings},
	"login":    {logSettings, kafkaSettings, devSettings, loginSettings},
	"client":   {logSettings, clientSettings},
	"emit":     {logSettings, kafkaSettings},
	"tail":     {logSettings, kafkaSettings},
	"lag":      {logSettings, kafkaSettings},
	"dlq":      {logSettings, kafkaSettings},
	"bench":    {logSettings, kafkaSecuritySettings()},
	"chaos":    {logSettings, chaosSettings},
}

// settingsOf are the settings of a command, in table order, each once.
func settingsOf(command string) []setting {
	var out []setting
	for _, g := range commandSettings[command] {
		for _, s := range g {
			if !slices.ContainsFunc(out, func(o setting) bool { return o.Env == s.Env }) {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseFlags parses a command line against fs, with a flag for each setting of the command
// that fs does not define itself. Flags given are then put into the environment, where every
// parser of the product reads its settings. Help lists the flags, then the settings with their
// variables and defaults.
func parseFlags(fs *flag.FlagSet, command string, args []string) error {
	settings := settingsOf(command)
	bound := map[string]setting{} // flag name -> setting, for the flags bound here
	for _, s := range settings {
		name := s.flagName()
		if name == "" || fs.Lookup(name) != nil {
			continue
		}
		if s.Bool {
			fs.Var(boolText{new(string)}, name, s.Usage+" (env "+s.Env+")")
		} else {
			fs.String(name, "", s.Usage+" (env "+s.Env+")")
		}
		bound[name] = s
	}
	fs.Usage = func() { printUsage(fs.Output(), fs, settings, bound) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if s, ok := bound[f.Name]; ok && err == nil {
			err = os.Setenv(s.Env, f.Value.String())
		}
	})
	if err != nil {
		return err
	}
	if err := applyLogLevel(); err != nil {
		return err
	}
	warnUnknownSettings(os.Environ())
	return nil
}

// boolText is a flag that takes no value and keeps its text, which parseFlags puts into the
// environment for the setting's parser.
type boolText struct{ v *string }

func (b boolText) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}

func (b boolText) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("want true or false")
	}
	*b.v = v
	return nil
}

func (boolText) IsBoolFlag() bool { return true }

// printUsage prints the command's own flags, then its settings: variable, flag, default and
// meaning of each.
func printUsage(w io.Writer, fs *flag.FlagSet, settings []setting, bound map[string]setting) {
	fmt.Fprintf(w, "usage: %s [flags]\n", fs.Name())
	own := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	own.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := bound[f.Name]; !ok {
			own.Var(f.Value, f.Name, f.Usage)
		}
	})
	if hasFlags(own) {
		fmt.Fprintln(w, "\nflags:")
		own.PrintDefaults()
	}
	if len(settings) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsettings: each is its environment variable or its flag (a flag given wins); secrets are\nthe variable or a file the variable NAME_FILE names, never a flag:\n\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  variable\tflag\tdefault\tmeaning")
	for _, s := range settings {
		f := "--" + s.flagName()
		switch {
		case s.Secret:
			f = "(secret)"
		case s.flagName() == "":
			f = "(env only)"
		}
		d := s.Default
		if d == "" {
			d = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Env, f, d, s.Usage)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nevery topic and group name can be changed by the variable of its name, e.g.\nCOMMAND_TOPIC_ACCOUNT_SESSION=my-topic (atlas topics creates them).")
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// applyLogLevel sets the log level from ATLAS_LOG_LEVEL, which --log-level may have set.
func applyLogLevel() error {
	v := os.Getenv("ATLAS_LOG_LEVEL")
	if v == "" {
		return nil
	}
	lvl, err := logrus.ParseLevel(v)
	if err != nil {
		return fmt.Errorf("ATLAS_LOG_LEVEL=%q: want trace, debug, info, warn or error", v)
	}
	logrus.SetLevel(lvl)
	return nil
}

// knownVariable reports whether name is a setting of any command, a topic or group name, or
// the _FILE form of a secret.
func knownVariable(name string) bool {
	switch name {
	case "GOMAXPROCS", "GOMEMLIMIT", "GOGC": // the Go runtime's own, which the bcrypt helper gets too
		return true
	}
	if _, ok := codecs.LookupCatalogTopic(name); ok {
		return true
	}
	if slices.Contains(atlas.NameVariables(), name) {
		return true
	}
	base, isFile := strings.CutSuffix(name, "_FILE")
	for _, groups := range commandSettings {
		for _, g := range groups {
			for _, s := range g {
				if s.Env == name || (isFile && s.Env == base && s.Secret) {
					return true
				}
			}
		}
	}
	return false
}

// testVariable reports whether name belongs to the tests and their scripts (ATLAS_TEST_*, the
// real-Kafka lane's test/kafka variables, the chaos suite's filter), not to the product.
func testVariable(name string) bool {
	return strings.HasPrefix(name, "ATLAS_TEST_") || laneVariables[name] || name == "ATLAS_CHAOS_ONLY"
}

// laneVariables are those of test/kafka (kafka.sh, integration.sh) and .ci/run.
var laneVariables = map[string]bool{
	"ATLAS_KAFKA_TEST_PKGS": true, "ATLAS_KAFKA_TEST_TIMEOUT": true, "ATLAS_KAFKA_BENCH": true,
	"ATLAS_KAFKA_VERSION": true, "ATLAS_KAFKA_CACHE": true, "ATLAS_KAFKA_CONFIG": true, "ATLAS_KAFKA_WORK": true,
	"ATLAS_KAFKA_PORT": true, "ATLAS_KAFKA_CONTROLLER_PORT": true, "ATLAS_KAFKA_HEAP": true,
	"ATLAS_KAFKA_OWNER": true, "ATLAS_KAFKA_START_TIMEOUT": true, "ATLAS_CI_STARTED": true,
}

// serviceLink matches the variables Kubernetes puts into every pod for each Service of its
// namespace (ATLAS_API_SERVICE_HOST, KAFKA_PORT_9092_TCP_ADDR, ...): a Service named like a
// prefix of ours is not a misspelt setting.
var serviceLink = regexp.MustCompile(`_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// warnUnknownSettings warns, in one line, of variables that look like the product's (ATLAS_,
// KAFKA_, CHANNEL_) but are none: a misspelt setting would otherwise be ignored in silence.
func warnUnknownSettings(environ []string) {
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ATLAS_") && !strings.HasPrefix(name, "KAFKA_") && !strings.HasPrefix(name, "CHANNEL_") {
			continue
		}
		if !knownVariable(name) && !testVariable(name) && !serviceLink.MatchString(name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		logrus.WithField("variables", strings.Join(unknown, ",")).Warn("not settings of atlas: ignored (atlas help <command> lists the settings)")
	}
}
