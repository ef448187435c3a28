#!/usr/bin/env bash
# Runs the integration suites against a real Apache Kafka broker: starts one with kafka.sh
# (fetching Kafka first if it is not cached), runs every package whose tests use
# processors/runtime/kafkatest with ATLAS_TEST_KAFKA_BROKERS pointing at it and a random
# ATLAS_NAME_PREFIX for the run, one package at a time, and
# stops the broker on the way out, whatever happens.
#
#   test/kafka/integration.sh [go test flags...]     e.g. -run TestAccountServiceOnKafka -v
#
# A broker already started by hand with `kafka.sh start` (same ATLAS_KAFKA_PORT) is used and
# left running. ATLAS_KAFKA_TEST_PKGS (space-separated package patterns) overrides the package list;
# ATLAS_KAFKA_TEST_TIMEOUT the go test -timeout (default 20m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
KAFKA_SH="$ROOT/test/kafka/kafka.sh"
GO="${GO:-go}"
KAFKATEST="github.com/atlasstreams/atlas/processors/runtime/kafkatest"

say() { echo "integration.sh: $*" >&2; }

# JDK and Maven come with the machine image; a bare machine gets them from Debian.
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing a JDK and Maven"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
  else
    say "java and mvn are needed (JDK 17+, Maven)"
    exit 1
  fi
fi

# The packages: kafkatest itself and those whose tests import it, unless told.
if [[ -n "${ATLAS_KAFKA_TEST_PKGS:-}" ]]; then
  read -r -a pkgs <<<"$ATLAS_KAFKA_TEST_PKGS"
else
  mapfile -t pkgs < <("$GO" list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
    awk -v want="$KAFKATEST" '{ for (i = 1; i <= NF; i++) if ($i == want) { print $1; break } }')
fi
if ((${#pkgs[@]} == 0)); then
  say "no package's tests use $KAFKATEST"
  exit 1
fi

t0=$SECONDS
"$KAFKA_SH" fetch
t_fetch=$((SECONDS - t0))

owned=0
status=0
finish() {
  status=$?
  if ((status != 0)) && "$KAFKA_SH" status >/dev/null 2>&1; then
    say "the broker's last warnings and errors:"
    "$KAFKA_SH" logs 30 >&2 || true
  fi
  if ((owned)); then
    "$KAFKA_SH" stop || true
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A broker someone started by hand is used and left running; one this script starts is
# stopped on exit, and if this script is killed first, the next run restarts it.
t0=$SECONDS
out="$(ATLAS_KAFKA_OWNER=$$ "$KAFKA_SH" start)"
t_start=$((SECONDS - t0))
if [[ "$("$KAFKA_SH" owner)" == "$$" ]]; then
  owned=1
else
  say "using the broker that was already running; it is left running"
fi
brokers="$(tail -n 1 <<<"$out")"
[[ "$brokers" == KAFKA_BROKERS=* ]] || { say "kafka.sh start said: $out"; exit 1; }
# The tests reach the broker through their own variable, never the product's KAFKA_BROKERS, and
# every topic and group they make carries this run's random prefix: the resets between tests
# delete only those, so a broker shared with anything else loses nothing.
unset KAFKA_BROKERS
export ATLAS_TEST_KAFKA_BROKERS="${brokers#KAFKA_BROKERS=}"
export ATLAS_NAME_PREFIX="${ATLAS_NAME_PREFIX:-atlas-test-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')-}"
# The chaos failover scenario starts a three-node cluster of its own from the same jars.
export ATLAS_KAFKA_LIBS="${ATLAS_KAFKA_LIBS:-$("$KAFKA_SH" libs 2>/dev/null)}"

say "ATLAS_TEST_KAFKA_BROKERS=$ATLAS_TEST_KAFKA_BROKERS ATLAS_NAME_PREFIX=$ATLAS_NAME_PREFIX; packages: ${pkgs[*]}"
t0=$SECONDS
# -p 1: one package at a time, since every test wipes the run's topics before it starts.
"$GO" test -p 1 -count=1 -timeout "${ATLAS_KAFKA_TEST_TIMEOUT:-20m}" "$@" "${pkgs[@]}"
t_tests=$((SECONDS - t0))

# The quick benchmark against the same broker (not on a partial run): the pipeline then does
# not share its process with the broker, as in production. Its figures are reported, not
# judged: a machine shared with a JVM broker measures what it measures. Set ATLAS_KAFKA_BENCH=0
# to leave it out.
t_bench=0
# Under CI (.ci/run sets ATLAS_CI_STARTED) it is left out once CI has run 14 minutes, so that
# CI stays within 20.
if [[ -n "${ATLAS_CI_STARTED:-}" ]] && (($(date +%s) - ATLAS_CI_STARTED > 840)); then
  say "CI has run for more than 14 minutes: atlas bench against the broker is left out"
  ATLAS_KAFKA_BENCH=0
fi
if [[ $# -eq 0 && -z "${ATLAS_KAFKA_TEST_PKGS:-}" && "${ATLAS_KAFKA_BENCH:-1}" != 0 ]]; then
  t0=$SECONDS
  say "atlas bench --quick against the broker"
  bench_out="$(mktemp -d)"
  # A prefix of its own: the tests left the run's product topics with their own partition counts.
  if ! ATLAS_NAME_PREFIX="${ATLAS_NAME_PREFIX}bench-" ATLAS_LOG_LEVEL=warn "$GO" run ./cmd/atlas bench --quick \
    --brokers "$ATLAS_TEST_KAFKA_BROKERS" --out "$bench_out"; then
    say "atlas bench against the broker reported a failed step (above); the tests passed"
  fi
  rm -rf "$bench_out"
  t_bench=$((SECONDS - t0))
fi
say "fetch ${t_fetch}s, broker start ${t_start}s, tests ${t_tests}s, bench ${t_bench}s"
