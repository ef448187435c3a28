package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
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
		{Env: "KAFKA_TLS", Default: "false", Usage: "TLS to the brokers with the system's CAs (implied by KAFKA_TLS_CA_FILE)"},
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
		{Env: "ATLAS_FLUSH_FREQUENCY", Default: "1ms", Usage: "producer batching delay"},
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
		{Env: "ATLAS_AUTO_REGISTER", Default: "true", Usage: "a login with an unknown name creates the account"},
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

// kafkaSecuritySettings are the Kafka settings but the brokers (for atlas bench, whose
// --brokers chooses between the embedded broker and others).
func kafkaSecuritySettings() []setting { return kafkaSettings[1:] }

// commandSettings are the groups each command reads.
var commandSettings = map[string][][]setting{
	"dev":      {logSettings, runtimeSettings, httpSettings, apiSettings, accountSettings, channelSettings, devSettings, tracingSettings},
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
		fs.String(name, "", s.Usage+" (env "+s.Env+")")
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
	applyLogLevel()
	warnUnknownSettings(os.Environ())
	return nil
}

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
func applyLogLevel() {
	if lvl, err := logrus.ParseLevel(os.Getenv("ATLAS_LOG_LEVEL")); err == nil {
		logrus.SetLevel(lvl)
	}
}

// knownVariable reports whether name is a setting of any command, a topic or group name, or
// the _FILE form of a secret.
func knownVariable(name string) bool {
	switch name {
	case "GOMAXPROCS", "GOMEMLIMIT", "GOGC": // the Go runtime's own, passed to the bcrypt helper
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
// real-Kafka lane's ATLAS_KAFKA_*, the chaos suite's filter), not to the product.
func testVariable(name string) bool {
	return strings.HasPrefix(name, "ATLAS_TEST_") || strings.HasPrefix(name, "ATLAS_KAFKA_") || name == "ATLAS_CHAOS_ONLY"
}

// warnUnknownSettings warns of a variable that looks like one of the product's (ATLAS_,
// KAFKA_, CHANNEL_) but is none: a misspelt setting would otherwise be silently ignored.
func warnUnknownSettings(environ []string) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ATLAS_") && !strings.HasPrefix(name, "KAFKA_") && !strings.HasPrefix(name, "CHANNEL_") {
			continue
		}
		if !knownVariable(name) && !testVariable(name) {
			logrus.WithField("variable", name).Warn("not a setting of atlas: ignored (atlas help <command> lists the settings)")
		}
	}
}
