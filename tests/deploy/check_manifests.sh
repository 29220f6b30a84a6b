#!/usr/bin/env bash
# Offline checks of everything under deploy/ (no cluster, no daemon needed):
#   1. yamllint (Debian's) over deploy/ and tests/deploy/;
#   2. every Kubernetes object -- the base, the example overlay, the base with the device-plugin
#      component, and each resource file on its own -- validated against the Kubernetes schemas
#      and prometheus-operator's CRD schemas (npm: kubernetes-models,
#      @kubernetes-models/prometheus-operator), unknown fields included; files in fixtures/ must
#      be rejected, so a validator that accepts everything fails here;
#   3. the PrometheusRule carries exactly the groups of deploy/prometheus/tapstack-rules.yml;
#   4. promtool check rules, promtool test rules (alerts that fire and that stay quiet), and
#      promtool check config on the scrape configuration;
#   5. the Grafana dashboard's structure, and every one of its queries parsed by promtool.
# Needs yamllint, promtool, node and npm (scripts/install-deps.sh installs them; this script
# installs nothing) and the npm packages in tests/deploy/node_modules (npm ci from
# package-lock.json, which needs the npm registry once: without it one line says what could not
# be checked). Rendering kustomizations needs a kubectl whose kustomize knows components (3.7+,
# kubectl 1.21+); without one the renders are skipped and named in the summary, and the resource
# files are still validated one by one.
# Ends with "N passed, N failed[, N skipped]"; exits non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
deploy="$root/deploy"
source "$here/npm_packages.sh"

for tool in yamllint promtool node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL $tool not found: run scripts/install-deps.sh"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

scratch=$(mktemp -d /tmp/tapstack-check-manifests.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
skipped=()
check() {  # NAME COMMAND...: runs it, shows its output only when it fails
  local name=$1 log
  shift
  log="$scratch/log"
  if "$@" >"$log" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/     /' "$log"
    failed=$((failed + 1))
  fi
}
expect_fail() {  # NAME COMMAND...: the command must fail
  local name=$1
  shift
  if "$@" >"$scratch/log" 2>&1; then
    echo "FAIL $name (was accepted)"
    failed=$((failed + 1))
  else
    echo "ok   $name"
    passed=$((passed + 1))
  fi
}

# 2, 3 and 5 run on Node.js with the npm packages; without them, one failure says what was not
# checked, and those checks do not run.
node_ok=1
npm_packages "the Kubernetes schemas, PrometheusRule = rules file, the Grafana dashboard" || {
  node_ok=0
  failed=$((failed + 1))
}
node_check() { ((node_ok == 0)) || check "$@"; }

# kubectl's kustomize renders these layouts only from 3.7 on (components, labels): a probe says
# why it cannot, or nothing.
kustomize_missing() {
  if ! command -v kubectl >/dev/null; then
    echo "kubectl not found"
    return
  fi
  mkdir -p "$scratch/probe/component"
  printf 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {a: b}\n' \
    >"$scratch/probe/component/kustomization.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n' >"$scratch/probe/cm.yaml"
  printf 'resources: [cm.yaml]\ncomponents: [component]\nlabels: [{pairs: {a: b}}]\n' \
    >"$scratch/probe/kustomization.yaml"
  kubectl kustomize "$scratch/probe" >/dev/null 2>&1 ||
    echo "the kustomize in $(command -v kubectl) predates components and labels (kustomize 3.7, kubectl 1.21; Debian bookworm's kubernetes-client, kubectl 1.20, has kustomize 2.0.3)"
}

# 1. YAML lint.
mapfile -t yaml_files < <(find "$deploy" "$here" -path "$here/node_modules" -prune -o \
                            -type f \( -name '*.yaml' -o -name '*.yml' \) -print | sort)
check "yamllint (${#yaml_files[@]} files)" yamllint -s -c "$here/yamllint.yml" "${yaml_files[@]}"

# 2. Kubernetes objects.
validate() { node "$here/validate.mjs" "$@"; }
k8s="$deploy/kubernetes"
why_no_kustomize=$(kustomize_missing)
if ((node_ok)) && [[ -z $why_no_kustomize ]]; then
  kustomize() { kubectl kustomize "$@"; }
  # The base with the device-plugin component instead of the hostPath volume.
  mkdir -p "$scratch/device-plugin"
  rel=$(realpath --relative-to="$scratch/device-plugin" "$k8s")  # kustomize takes no absolute paths
  cat >"$scratch/device-plugin/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel/base
components:
  - $rel/components/tun-device-plugin
EOF
  for target in "$k8s/base" "$k8s/overlays/example" "$scratch/device-plugin"; do
    name=${target#"$root/"}
    name=${name#"$scratch/"}
    out="$scratch/$(echo "$name" | tr / _).yaml"
    if kustomize "$target" >"$out" 2>"$scratch/kustomize.err"; then
      check "kubernetes schemas: kustomize $name" validate "$out"
    else
      echo "FAIL kustomize $name"
      sed 's/^/     /' "$scratch/kustomize.err"
      failed=$((failed + 1))
    fi
  done
  # The device-plugin variant really has no hostPath left, and asks for the device.
  check "device-plugin component removes the hostPath volume" \
    bash -c "! grep -q 'hostPath' '$scratch/device-plugin.yaml' && grep -q 'squat.ai/tun' '$scratch/device-plugin.yaml'"
  # The example overlay's flag values reach the ConfigMap the Deployment references.
  check "example overlay merges its flag values" \
    bash -c "grep -q 'TAPSTACK_SYNCOOKIES: always' '$scratch/deploy_kubernetes_overlays_example.yaml'"
elif ((node_ok)); then
  skipped+=("kustomize rendering of deploy/kubernetes/base, overlays/example and base + components/tun-device-plugin, with their 3 schema checks and the 2 checks of what they render: $why_no_kustomize (every resource file is still checked on its own)")
fi
# Each resource file on its own: everything but kustomization.yaml and patch-*.yaml.
mapfile -t resources < <(find "$k8s" -name '*.yaml' -not -name kustomization.yaml \
                           -not -name 'patch-*.yaml' | sort)
node_check "kubernetes schemas: ${#resources[@]} resource files" validate "${resources[@]}"
for fixture in "$here"/fixtures/invalid-*.yaml; do
  ((node_ok == 0)) || expect_fail "validator rejects ${fixture#"$here/"}" validate "$fixture"
done

# 3. PrometheusRule == rules file.
node_check "PrometheusRule matches deploy/prometheus/tapstack-rules.yml" node "$here/sync_rules.mjs"

# 4. Prometheus.
check "promtool check rules" promtool check rules "$deploy/prometheus/tapstack-rules.yml"
check "promtool test rules" promtool test rules "$here/prometheus/tapstack-rules.test.yml"
# Debian's Prometheus is built without Kubernetes discovery: check a copy whose
# kubernetes_sd_configs is a static target, everything else (relabelling included) as written.
mkdir -p "$scratch/prometheus"
sed -e 's/^\( *\)kubernetes_sd_configs:$/\1static_configs:/' \
    -e 's/^\( *\)- role: pod$/\1- targets: ["127.0.0.1:9464"]/' \
    "$deploy/prometheus/prometheus.yml" >"$scratch/prometheus/prometheus.yml"
cp "$deploy/prometheus/tapstack-rules.yml" "$scratch/prometheus/"
check "promtool check config (scrape configuration)" promtool check config "$scratch/prometheus/prometheus.yml"

# 5. Grafana.
dashboard="$deploy/grafana/dashboards/tapstack.json"
node_check "grafana dashboard structure" node "$here/check_dashboard.mjs" "$dashboard" \
  "$deploy/grafana/provisioning/dashboards/tapstack.yaml" --promql-rules "$scratch/dashboard-queries.json"
node_check "grafana dashboard queries parse as PromQL" promtool check rules "$scratch/dashboard-queries.json"

for reason in "${skipped[@]}"; do echo "skip $reason"; done
echo "$passed passed, $failed failed${skipped[0]+, ${#skipped[@]} skipped}"
((failed == 0))
