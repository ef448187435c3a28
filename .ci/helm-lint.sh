#!/usr/bin/env bash
# Lints, renders and unit-tests the Helm chart in helm/atlas with a pinned helm and a pinned
# helm-unittest, both built from source through the Go module proxy (the first run compiles
# them, later runs reuse Go's build cache).
#
#   .ci/helm-lint.sh                       # what CI and `make helm-lint` run
#   HELM_VERSION=v3.x.y .ci/helm-lint.sh   # try another helm v3 release
#
# Checks: `helm lint --strict` with the default values and with each helm/atlas/ci/*.yaml;
# `helm template` of the same; the chart's unit tests (helm/atlas/tests/*_test.yaml: what each
# values file must render, and the values it must refuse); that the dashboard is valid JSON;
# that the chart packages; and that values.yaml names every topic the Go code reads from the
# environment.
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

echo "helm ${HELM_VERSION} (go run; compiles on first use)"
helm version --short || true

# --- lint ---------------------------------------------------------------------------------
if helm lint --strict "$CHART"; then ok "lint --strict (default values)"; else bad "lint --strict (default values)"; fi
for f in "$CHART"/ci/*.yaml; do
	if helm lint --strict "$CHART" -f "$f"; then ok "lint --strict -f $f"; else bad "lint --strict -f $f"; fi
done

# --- template: every values file renders ----------------------------------------------------
if helm template "$RELEASE" "$CHART" >/dev/null; then ok "template (default values)"; else bad "template (default values)"; fi
for f in "$CHART"/ci/*.yaml; do
	if helm template "$RELEASE" "$CHART" -f "$f" >/dev/null; then ok "template -f $f"; else bad "template -f $f"; fi
done

# --- the chart's unit tests -------------------------------------------------------------------
echo "helm-unittest (built from .ci/helm-unittest; compiles on first use)"
if (cd .ci/helm-unittest && go build -o "$OUT/helm-unittest" github.com/helm-unittest/helm-unittest/cmd/helm-unittest); then
	if "$OUT/helm-unittest" --color=false "$CHART"; then ok "helm-unittest ($CHART/tests)"; else bad "helm-unittest ($CHART/tests)"; fi
else
	bad "building helm-unittest"
fi

# --- the dashboard is valid JSON with its panels ---------------------------------------------
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["panels"]) >= 7' "$CHART/dashboards/atlas-streams.json"; then
	ok "dashboard JSON"
else
	bad "dashboard JSON: $CHART/dashboards/atlas-streams.json is not valid JSON with its panels"
fi

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
