#!/usr/bin/env bash
# Lints and renders the Helm chart in helm/atlas with a pinned helm, built from source through
# the Go module proxy (`go run`; the first run compiles helm, later runs reuse Go's build cache).
#
#   .ci/helm-lint.sh                       # what CI and `make helm-lint` run
#   HELM_VERSION=v3.x.y .ci/helm-lint.sh   # try another helm v3 release
#
# Checks: `helm lint --strict` with the default values and with each helm/atlas/ci/*.yaml;
# `helm template` of the same, with the resources each must produce; renders that must be
# refused (bad channel entries, bad seal keys); and that values.yaml names every topic the Go
# code reads from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION="${HELM_VERSION:-v3.16.4}"
CHART=helm/atlas
RELEASE=ci
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

helm() { go run "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" "$@"; }

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# doc FILE KIND NAME: the rendered document of that kind and metadata.name.
doc() {
	awk -v kind="$2" -v name="$3" '
		BEGIN { RS = "\n---\n" }
		index($0, "\nkind: " kind "\n") && index($0, "\n  name: " name "\n") { print }
	' "$1"
}
# count FILE KIND: how many documents of that kind.
count() { grep -c "^kind: $2\$" "$1" || true; }
# expect WHAT ACTUAL WANTED
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
# has WHAT FILE KIND NAME LINE: the document contains LINE (a fixed string, whole line).
# (The document is read whole first: `grep -q` in a pipe under pipefail can fail the writer.)
has() {
	local d
	d="$(doc "$2" "$3" "$4")"
	if grep -qxF -- "$5" <<<"$d"; then ok "$1"; else bad "$1: $3/$4 lacks '$5'"; fi
}

echo "helm ${HELM_VERSION} (go run; compiles on first use)"
helm version --short || true

# --- lint ---------------------------------------------------------------------------------
if helm lint --strict "$CHART"; then ok "lint --strict (default values)"; else bad "lint --strict (default values)"; fi
for f in "$CHART"/ci/*.yaml; do
	if helm lint --strict "$CHART" -f "$f"; then ok "lint --strict -f $f"; else bad "lint --strict -f $f"; fi
done

# --- template: default values -------------------------------------------------------------
R="$OUT/default.yaml"
if helm template "$RELEASE" "$CHART" >"$R"; then
	ok "template (default values)"
	expect "default: Deployments (account, registry, api)" "$(count "$R" Deployment)" 3
	expect "default: PodDisruptionBudgets" "$(count "$R" PodDisruptionBudget)" 3
	expect "default: Services (api only)" "$(count "$R" Service)" 1
	expect "default: topics hook Job" "$(count "$R" Job)" 1
	has "default: generated seal-key Secret is kept" "$R" Secret ci-atlas-seal-keys "    helm.sh/resource-policy: keep"
	has "default: account reads the seal keys" "$R" Deployment ci-atlas-account "                  name: ci-atlas-seal-keys"
	has "default: account replicas" "$R" Deployment ci-atlas-account "  replicas: 2"
	has "default: liveness on /healthz" "$R" Deployment ci-atlas-api "              path: /healthz"
	has "default: readiness on /readyz" "$R" Deployment ci-atlas-api "              path: /readyz"
	has "default: scrape annotation" "$R" Deployment ci-atlas-registry '        prometheus.io/scrape: "true"'
	has "default: read-only root" "$R" Deployment ci-atlas-registry "            readOnlyRootFilesystem: true"
	has "default: storage dir" "$R" Deployment ci-atlas-account '              value: "/var/lib/atlas"'
	has "default: hook" "$R" Job ci-atlas-topics "    helm.sh/hook: pre-install,pre-upgrade"
	has "default: brokers" "$R" ConfigMap ci-atlas-config '  KAFKA_BROKERS: "kafka:9092"'
	has "default: the api reads its bearer tokens" "$R" Deployment ci-atlas-api "                  name: ci-atlas-api-tokens"
	has "default: a generated api token is kept" "$R" Secret ci-atlas-api-tokens "    helm.sh/resource-policy: keep"
else
	bad "template (default values)"
fi

# --- template: 2 channels, 3 account replicas ---------------------------------------------
R="$OUT/scaled.yaml"
if helm template "$RELEASE" "$CHART" -f "$CHART/ci/scaled-values.yaml" >"$R"; then
	ok "template -f ci/scaled-values.yaml"
	expect "scaled: Deployments (3 + 2 channels)" "$(count "$R" Deployment)" 5
	expect "scaled: Services (api + 2 channels)" "$(count "$R" Service)" 3
	has "scaled: account replicas" "$R" Deployment ci-atlas-account "  replicas: 3"
	has "scaled: channel w0-a is one replica" "$R" Deployment ci-atlas-channel-w0-a "  replicas: 1"
	has "scaled: channel w0-a recreates" "$R" Deployment ci-atlas-channel-w0-a "    type: Recreate"
	has "scaled: channel w0-a SERVICE_ID" "$R" Deployment ci-atlas-channel-w0-a "              value: 6f1d3c52-2b7a-4f4e-9f0e-3b1b2a9c0d11"
	has "scaled: channel w0-a channels" "$R" Deployment ci-atlas-channel-w0-a "              value: 1:7575,2:7576"
	has "scaled: channel w0-a tells players its Service name" "$R" Deployment ci-atlas-channel-w0-a "              value: ci-atlas-channel-w0-a.default.svc"
	has "scaled: channel w0-b SERVICE_ID" "$R" Deployment ci-atlas-channel-w0-b "              value: 9a2e7b40-5c1d-4e8f-b3a6-0d4c8f1e2b97"
	has "scaled: channel w0-b channels" "$R" Deployment ci-atlas-channel-w0-b "              value: 3:7575"
	has "scaled: channel w0-a Service port" "$R" Service ci-atlas-channel-w0-a "      port: 7576"
	has "scaled: channel w0-b Service type" "$R" Service ci-atlas-channel-w0-b "  type: NodePort"
	has "scaled: channel verify keys from the chart's Secret" "$R" Deployment ci-atlas-channel-w0-a "                  name: ci-atlas-ticket-keys"
	has "scaled: the chart's ticket-key Secret" "$R" Secret ci-atlas-ticket-keys "type: Opaque"
	has "scaled: channel transfer key" "$R" Deployment ci-atlas-channel-w0-b "                  name: atlas-channel-transfer"
	has "scaled: channel connection limit" "$R" Deployment ci-atlas-channel-w0-a '              value: "5000"'
	has "scaled: renamed topic" "$R" ConfigMap ci-atlas-config '  COMMAND_TOPIC_ACCOUNT_SESSION: "prod.account.session.commands"'
	has "scaled: partitions" "$R" ConfigMap ci-atlas-config '  ATLAS_PARTITIONS: "24"'
	has "scaled: hook sees the renamed topic" "$R" Job ci-atlas-topics '              value: "prod.atlas.dead-letter"'
	has "scaled: Kafka CA mounted" "$R" Deployment ci-atlas-account '              value: "/etc/atlas/kafka-ca/ca.crt"'
	has "scaled: SASL password from a file" "$R" Deployment ci-atlas-account '              value: "/etc/atlas/kafka-sasl/password"'
	has "scaled: the hook speaks SASL too" "$R" Job ci-atlas-topics '              value: "SCRAM-SHA-512"'
	has "scaled: channels speak TLS" "$R" Deployment ci-atlas-channel-w0-a '            secretName: kafka-cluster-ca'
	secret="$(doc "$R" Secret ci-atlas-seal-keys)"
	if [ -z "$secret" ] || grep -q "resource-policy" <<<"$secret"; then
		bad "scaled: configured keys are not kept on uninstall"
	else
		ok "scaled: configured keys are not kept on uninstall"
	fi
else
	bad "template -f ci/scaled-values.yaml"
fi

# --- template: the observability kit --------------------------------------------------------
R="$OUT/observability.yaml"
if helm template "$RELEASE" "$CHART" --set metrics.serviceMonitor.enabled=true --set metrics.prometheusRule.enabled=true \
	--set metrics.dashboard.enabled=true >"$R"; then
	ok "template with the observability kit"
	expect "observability: one ServiceMonitor" "$(count "$R" ServiceMonitor)" 1
	has "observability: it scrapes /metrics" "$R" ServiceMonitor ci-atlas-metrics "      path: /metrics"
	expect "observability: four alerts" "$(grep -c '^        - alert: ' "$R")" 4
	dash="$(doc "$R" ConfigMap ci-atlas-dashboard | awk '/atlas-streams.json: \|-/ {on=1; next} on {sub(/^    /, ""); print}')"
	if python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["panels"]) >= 7' <<<"$dash"; then
		ok "observability: the dashboard is valid JSON with its panels"
	else
		bad "observability: the dashboard ConfigMap does not hold the dashboard JSON"
	fi
else
	bad "template with the observability kit"
fi
expect "default: no ServiceMonitor" "$(count "$OUT/default.yaml" ServiceMonitor)" 0

# --- template: every other ci values file -------------------------------------------------
for f in "$CHART"/ci/*.yaml; do
	[ "$(basename "$f")" = scaled-values.yaml ] && continue
	if helm template "$RELEASE" "$CHART" -f "$f" >"$OUT/other.yaml"; then ok "template -f $f"; else bad "template -f $f"; fi
done
R="$OUT/other.yaml"
helm template "$RELEASE" "$CHART" -f "$CHART/ci/minimal-values.yaml" >"$R" || true
expect "minimal: no Secret with existingSecret" "$(count "$R" Secret)" 0
expect "minimal: no hook Job" "$(count "$R" Job)" 0
has "minimal: existing Secret and key" "$R" Deployment atlas-min-account "                  key: keys"

# --- renders that must be refused ---------------------------------------------------------
# refuse WHAT MESSAGE-FRAGMENT ARGS...: helm template must fail, saying MESSAGE-FRAGMENT.
refuse() {
	local what="$1" want="$2" err
	shift 2
	if err="$(helm template "$RELEASE" "$CHART" -f "$CHART/ci/scaled-values.yaml" "$@" 2>&1 >/dev/null)"; then
		bad "refuses $what: it rendered"
	elif grep -qF -- "$want" <<<"$err"; then
		ok "refuses $what"
	else
		bad "refuses $what: unexpected error: $err"
	fi
}
refuse "a shared serviceId" "used by two instances" --set "channels[1].serviceId=6f1d3c52-2b7a-4f4e-9f0e-3b1b2a9c0d11"
refuse "a serviceId that is not a uuid" "serviceId" --set "channels[0].serviceId=channel-1"
refuse "one channel served twice" "already served" --set "channels[1].channels[0].id=2"
refuse "a port used twice in an instance" "want a free port" --set "channels[0].channels[1].port=7575"
refuse "a channel without a tenant" "tenant id" --set "channel.tenant.id="
refuse "a seal key that is not 32 bytes" "exactly 32 bytes" --set "passwordSealKeys.keys[0]=c2hvcnQta2V5LXNob3J0LWtleS1zaG9ydC1rZXktMw=="
refuse "keys and existingSecret together" "not both" --set "passwordSealKeys.existingSecret=x"
refuse "channels without ticket verify keys" "entry tickets" --set "channel.tickets.verifyKeys=null"
refuse "ticket keys from two places" "not both" --set "channel.tickets.existingSecret=x"
refuse "a negative replica count" "account.replicas" --set "account.replicas=-1"

# --- the chart packages -------------------------------------------------------------------
if helm package "$CHART" -d "$OUT" >/dev/null; then ok "package"; else bad "package"; fi

# --- values.yaml names every topic the code reads -----------------------------------------
missing=""
seen=0
while read -r env; do
	seen=$((seen + 1))
	grep -qE "^  ${env}: " "$CHART/values.yaml" || missing="$missing $env"
done < <(grep -ohE '(TopicFromEnv\("[A-Z0-9_]+"|envOr\("ATLAS_[A-Z0-9_]+_TOPIC")' catalog_topics.go topics.go | sed -E 's/.*\("//; s/"$//')
[ "$seen" -gt 0 ] || missing=" (no topic found in the Go code: has it moved?)"
if [ -z "$missing" ]; then ok "values.yaml topics cover catalog_topics.go and topics.go"; else bad "values.yaml topics lack:$missing"; fi

echo "helm: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
