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
# Installs what it lacks: yamllint, prometheus (promtool) and nodejs/npm from Debian's packages,
# the npm packages into tests/deploy/node_modules (npm ci, from package-lock.json).
# Rendering kustomizations needs `kubectl kustomize`; without kubectl those objects are skipped
# (and said so) and the resource files are still validated one by one.
# Ends with "N passed, N failed"; exits non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
deploy="$root/deploy"

need=()
command -v yamllint >/dev/null || need+=(yamllint)
command -v promtool >/dev/null || need+=(prometheus)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } || {
    echo "FAIL could not install ${need[*]}"
    echo "0 passed, 1 failed"
    exit 1
  }
fi

# npm packages, reinstalled only when package-lock.json changes.
stamp="$here/node_modules/.tapstack-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "FAIL npm ci in $here"
    echo "0 passed, 1 failed"
    exit 1
  fi
  cp "$here/package-lock.json" "$stamp"
fi

scratch=$(mktemp -d /tmp/tapstack-check-manifests.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
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

# 1. YAML lint.
mapfile -t yaml_files < <(find "$deploy" "$here" -path "$here/node_modules" -prune -o \
                            -type f \( -name '*.yaml' -o -name '*.yml' \) -print | sort)
check "yamllint (${#yaml_files[@]} files)" yamllint -s -c "$here/yamllint.yml" "${yaml_files[@]}"

# 2. Kubernetes objects.
validate() { node "$here/validate.mjs" "$@"; }
k8s="$deploy/kubernetes"
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
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
else
  echo "skip kustomize rendering: kubectl (with kustomize) not found; resource files checked one by one"
fi
# Each resource file on its own: everything but kustomization.yaml and patch-*.yaml.
mapfile -t resources < <(find "$k8s" -name '*.yaml' -not -name kustomization.yaml \
                           -not -name 'patch-*.yaml' | sort)
check "kubernetes schemas: ${#resources[@]} resource files" validate "${resources[@]}"
for fixture in "$here"/fixtures/invalid-*.yaml; do
  expect_fail "validator rejects ${fixture#"$here/"}" validate "$fixture"
done

# 3. PrometheusRule == rules file.
check "PrometheusRule matches deploy/prometheus/tapstack-rules.yml" node "$here/sync_rules.mjs"

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
check "grafana dashboard structure" node "$here/check_dashboard.mjs" "$dashboard" \
  "$deploy/grafana/provisioning/dashboards/tapstack.yaml" --promql-rules "$scratch/dashboard-queries.json"
check "grafana dashboard queries parse as PromQL" promtool check rules "$scratch/dashboard-queries.json"

echo "$passed passed, $failed failed"
((failed == 0))
