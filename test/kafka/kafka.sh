#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, broker and controller in one JVM) for the integration tests.
#
#   test/kafka/kafka.sh fetch    download Kafka and its dependencies from Maven Central, once
#   test/kafka/kafka.sh start    format a fresh store, start the broker, wait until it answers;
#                                the last line printed is KAFKA_BROKERS=127.0.0.1:<port>
#   test/kafka/kafka.sh stop     stop the broker and remove its work folder
#   test/kafka/kafka.sh status   say whether it runs (exit 0 if it does, 1 if not)
#   test/kafka/kafka.sh logs [N] the broker log's warnings and errors (last N, default 40)
#   test/kafka/kafka.sh owner    the ATLAS_KAFKA_OWNER the running broker was started with
#   test/kafka/kafka.sh libs     fetch if needed, then print the folder of Kafka's jars (the
#                                chaos failover scenario runs a cluster of its own from them)
#
# Settings (environment):
#   ATLAS_KAFKA_VERSION          Kafka version (default below; any 4.x on Maven Central)
#   ATLAS_KAFKA_CACHE            download cache (default ~/.cache/atlas-kafka)
#   ATLAS_KAFKA_PORT             client port on 127.0.0.1 (default 19092)
#   ATLAS_KAFKA_CONTROLLER_PORT  KRaft controller port (default: client port + 1)
#   ATLAS_KAFKA_WORK             data, logs and pid file (default ${TMPDIR:-/tmp}/atlas-kafka-<port>)
#   ATLAS_KAFKA_HEAP             JVM heap options (default -Xms256m -Xmx512m)
#   ATLAS_KAFKA_START_TIMEOUT    seconds start waits for the broker (default 90)
#   ATLAS_KAFKA_OWNER            pid of the process that will stop the broker (integration.sh):
#                                a later start restarts a broker whose owner has gone
#   ATLAS_KAFKA_CONFIG           extra broker settings, key=value separated by spaces or
#                                newlines; they override the ones below
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="${ATLAS_KAFKA_VERSION:-4.1.2}"
CACHE_ROOT="${ATLAS_KAFKA_CACHE:-${HOME:-/root}/.cache/atlas-kafka}"
DIST="$CACHE_ROOT/$VERSION"
LIBS="$DIST/libs"
PORT="${ATLAS_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${ATLAS_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
WORK="${ATLAS_KAFKA_WORK:-${TMPDIR:-/tmp}/atlas-kafka-$PORT}"
HEAP="${ATLAS_KAFKA_HEAP:--Xms256m -Xmx512m}"
START_TIMEOUT="${ATLAS_KAFKA_START_TIMEOUT:-90}"
PIDFILE="$WORK/kafka.pid"

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"
}

# ---------------------------------------------------------------------------------------------
# fetch

fetch() {
  if [[ -f "$DIST/.complete" ]]; then
    say "Kafka $VERSION already in $DIST"
    return 0
  fi
  need java "JDK 17 or later"
  need mvn "Maven fetches Kafka from Maven Central"
  mkdir -p "$DIST"
  # Two fetches at once (two checkouts on one machine): the second waits for the first.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DIST/.lock"
    flock 9
    if [[ -f "$DIST/.complete" ]]; then
      say "Kafka $VERSION already in $DIST"
      return 0
    fi
  fi
  local tmp
  tmp="$(mktemp -d "$DIST/libs.XXXXXX")"
  say "fetching org.apache.kafka:kafka_2.13:$VERSION and its runtime dependencies"
  local started=$SECONDS
  if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" -Dkafka.version="$VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      >"$DIST/fetch.log" 2>&1; then
    cat "$DIST/fetch.log" >&2
    rm -rf "$tmp"
    die "maven could not fetch Kafka $VERSION"
  fi
  if [[ ! -f "$tmp/kafka_2.13-$VERSION.jar" ]]; then
    rm -rf "$tmp"
    die "no kafka_2.13-$VERSION.jar after the fetch"
  fi
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "$VERSION" >"$DIST/.complete"
  say "Kafka $VERSION in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars, $((SECONDS - started))s)"
}

# ---------------------------------------------------------------------------------------------
# status helpers

# The broker's pid, if the pid file names a live process that is our broker (a recycled pid
# belonging to something else is never signalled).
broker_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $WORK/server.properties" || return 1
  echo "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

status() {
  local pid
  if pid="$(broker_pid)"; then
    echo "running: Kafka $(cat "$WORK/version" 2>/dev/null || echo '?') pid $pid on 127.0.0.1:$PORT (work dir $WORK)"
    return 0
  fi
  echo "not running (port $PORT, work dir $WORK)"
  return 1
}

# ---------------------------------------------------------------------------------------------
# start

write_config() {
  cat >"$WORK/server.properties" <<EOF
# Written by test/kafka/kafka.sh: a throwaway single-node KRaft cluster for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$WORK/data

# Topics exist only when the product (or a test) creates them, as in production.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# One broker: internal topics with one replica, and few partitions to create.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Groups: no delay before the first rebalance, short session timeouts allowed.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# Small, short-lived logs; deleted topics' files go soon.
log.retention.hours=1
log.segment.bytes=16777216
log.retention.check.interval.ms=60000
file.delete.delay.ms=1000
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.backoff.ms=5000
num.recovery.threads.per.data.dir=1

# A modest footprint on a shared two-core machine.
num.network.threads=2
num.io.threads=4
background.threads=4
auto.leader.rebalance.enable=false
EOF
  if [[ -n "${ATLAS_KAFKA_CONFIG:-}" ]]; then
    echo "# From ATLAS_KAFKA_CONFIG." >>"$WORK/server.properties"
    local kv
    for kv in $ATLAS_KAFKA_CONFIG; do
      [[ "$kv" == *=* ]] || die "ATLAS_KAFKA_CONFIG: '$kv' is not key=value"
      echo "$kv" >>"$WORK/server.properties"
    done
  fi
  cat >"$WORK/log4j2.properties" <<EOF
# Written by test/kafka/kafka.sh: everything to files under $WORK/logs, nothing to the console.
status = warn
name = atlas-test-kafka
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = $WORK/logs/server.log
appender.server.filePattern = $WORK/logs/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 20MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
EOF
  cat >"$WORK/check-log4j2.properties" <<EOF
# The readiness check's admin client: errors only, to a file.
status = warn
appender.check.type = File
appender.check.name = check
appender.check.fileName = $WORK/logs/check.log
appender.check.layout.type = PatternLayout
appender.check.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = error
rootLogger.appenderRef.check.ref = check
EOF
}

start() {
  local pid
  if pid="$(broker_pid)"; then
    local running owner
    running="$(cat "$WORK/version" 2>/dev/null || echo '?')"
    owner="$(cat "$WORK/owner" 2>/dev/null || true)"
    if [[ "$owner" =~ ^[0-9]+$ ]] && ! kill -0 "$owner" 2>/dev/null; then
      say "the broker (pid $pid) was left by a run that ended without stopping it (pid $owner): restarting"
      stop
    elif [[ -n "$owner" ]]; then
      die "the broker on port $PORT (pid $pid) belongs to a run in progress (pid $owner); set ATLAS_KAFKA_PORT for another"
    elif [[ "$running" != "$VERSION" ]]; then
      die "Kafka $running already runs on port $PORT (pid $pid), not $VERSION: stop it first"
    else
      say "already running (pid $pid)"
      echo "KAFKA_BROKERS=127.0.0.1:$PORT"
      return 0
    fi
  fi
  fetch
  need java "JDK 17 or later"
  if port_open "$PORT" || port_open "$CONTROLLER_PORT"; then
    die "port $PORT or $CONTROLLER_PORT on 127.0.0.1 is in use by another program; set ATLAS_KAFKA_PORT"
  fi
  if [[ -d "$WORK" && -n "$(ls -A "$WORK")" && ! -f "$WORK/server.properties" ]]; then
    die "$WORK holds files that are not a broker's of this script; choose another ATLAS_KAFKA_WORK"
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK/data" "$WORK/logs"
  echo "$VERSION" >"$WORK/version"
  write_config

  local started=$SECONDS
  # A random cluster id: 16 bytes, base64url without padding, as Kafka's Uuid prints them.
  # Like Kafka's own random ids, none that starts with "-" (a command line would take it for
  # an option; --cluster-id=ID guards against that as well).
  local cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  if ! java -Xmx256m -Dlog4j2.configurationFile="$WORK/check-log4j2.properties" -cp "$LIBS/*" \
      kafka.tools.StorageTool format --cluster-id="$cluster_id" --config "$WORK/server.properties" \
      >"$WORK/logs/format.log" 2>&1; then
    cat "$WORK/logs/format.log" >&2
    die "formatting the KRaft store failed"
  fi

  # setsid: the broker outlives this shell and ignores its terminal's signals; stop ends it.
  # shellcheck disable=SC2086 # HEAP holds several JVM options
  setsid java $HEAP -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$WORK/log4j2.properties" -Dkafka.logs.dir="$WORK/logs" \
    -cp "$LIBS/*" kafka.Kafka "$WORK/server.properties" \
    >"$WORK/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if [[ -n "${ATLAS_KAFKA_OWNER:-}" ]]; then
    echo "$ATLAS_KAFKA_OWNER" >"$WORK/owner"
  fi
  say "Kafka $VERSION starting (pid $!, logs in $WORK/logs)"

  # Wait for the port, then for the broker to answer an admin client's describeCluster.
  local deadline=$((SECONDS + START_TIMEOUT))
  while ! port_open "$PORT"; do
    if ! broker_pid >/dev/null; then
      tail -n 40 "$WORK/logs/stdout.log" "$WORK/logs/server.log" >&2 2>/dev/null || true
      die "the broker exited while starting"
    fi
    ((SECONDS < deadline)) || { stop >/dev/null 2>&1 || true; die "port $PORT not open after ${START_TIMEOUT}s"; }
    sleep 0.2
  done
  local left=$((deadline - SECONDS))
  ((left > 5)) || left=5
  if ! java -Xmx128m -Dlog4j2.configurationFile="$WORK/check-log4j2.properties" -cp "$LIBS/*" \
      "$HERE/Ready.java" "127.0.0.1:$PORT" "$left" >&2; then
    tail -n 40 "$WORK/logs/server.log" >&2 2>/dev/null || true
    stop >/dev/null 2>&1 || true
    die "the broker did not answer within ${START_TIMEOUT}s"
  fi
  say "ready after $((SECONDS - started))s"
  echo "KAFKA_BROKERS=127.0.0.1:$PORT"
}

# ---------------------------------------------------------------------------------------------
# stop

stop() {
  local pid
  if pid="$(broker_pid)"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "broker (pid $pid) still running 30s after SIGTERM: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  # Only ever remove a folder this script laid out.
  if [[ -f "$WORK/server.properties" || -f "$PIDFILE" ]]; then
    rm -rf "$WORK"
  fi
}

logs() {
  local n="${1:-40}"
  [[ -f "$WORK/logs/server.log" ]] || die "no broker log in $WORK/logs"
  grep -hE '^\[[^]]*\] (WARN|ERROR|FATAL) ' "$WORK/logs/server.log" | tail -n "$n" || true
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
status) status ;;
logs) logs "${2:-40}" ;;
libs) fetch && echo "$LIBS" ;;
owner) if broker_pid >/dev/null; then cat "$WORK/owner" 2>/dev/null || true; fi ;;
*)
  echo "usage: $0 fetch|start|stop|status|logs [N]|owner|libs" >&2
  exit 2
  ;;
esac
