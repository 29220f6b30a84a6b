#!/usr/bin/env bash
# Every metric name that the Grafana dashboard and the Prometheus alerting rules use must be in
# the /metrics of a real tapstackd. Starts the daemon from BUILD_DIR in a network namespace of its
# own (tapstack-e2e-<random>), on a TAP set up the way the Kubernetes tap-setup container does it
# (persistent, kernel side 198.18.0.1/24, the stack 198.18.0.2/24), makes a few connections to its
# demo listener so every family has samples, scrapes /metrics and compares.
# The namespace (and with it the TAP) is deleted on every exit path. Needs root (ip netns).
# Usage: tests/deploy/check_metric_names.sh BUILD_DIR|TAPSTACKD_BINARY
# Ends with "N passed, N failed"; exits non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if (($# != 1)); then
  echo "usage: $0 BUILD_DIR|TAPSTACKD_BINARY" >&2
  exit 2
fi
build=$1
if [[ -f $build && -x $build ]]; then
  daemon=$build
else
  daemon="$build/server/tapstackd"
fi
if [[ ! -x $daemon ]]; then
  daemon=$(find "$build" -type f -name tapstackd -perm -u+x 2>/dev/null | head -1)
fi
if [[ -z $daemon || ! -x $daemon ]]; then
  echo "FAIL no tapstackd under $build (build the tapstackd target first)"
  echo "0 passed, 1 failed"
  exit 1
fi
if ((EUID != 0)); then
  echo "FAIL needs root for ip netns"
  echo "0 passed, 1 failed"
  exit 1
fi
for tool in ip node python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL $tool not found: run scripts/install-deps.sh"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
source "$here/npm_packages.sh"
if ! npm_packages "the dashboard's and the rules' metric names against a live tapstackd"; then
  echo "0 passed, 1 failed"
  exit 1
fi

ns="tapstack-e2e-$$-$RANDOM"
tap=tse2e0
scratch=$(mktemp -d /tmp/tapstack-metric-names.XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  ip netns delete "$ns" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit
}
in_ns() { ip netns exec "$ns" "$@"; }

# The namespace and the TAP, as deploy/kubernetes's tap-setup makes it.
if ! { ip netns add "$ns" && in_ns ip link set lo up &&
       in_ns ip tuntap add dev "$tap" mode tap &&
       in_ns ip addr add 198.18.0.1/24 dev "$tap" &&
       in_ns ip link set dev "$tap" up; }; then
  fail "setting up namespace $ns with TAP $tap"
  finish
fi

# `ip netns exec` itself, not the in_ns function: a backgrounded function is a subshell, and
# $! would be that shell rather than the daemon that cleanup must signal.
ip netns exec "$ns" "$daemon" --tap "$tap" --address 198.18.0.2/24 --grpc-listen 127.0.0.1:50051 \
  --metrics-listen 127.0.0.1:9464 --demo-listener 8080 >"$scratch/daemon.log" 2>&1 &
daemon_pid=$!

# GET /metrics from inside the namespace; prints the body, fails on anything but 200.
scrape() {
  in_ns python3 - <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=2) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:
    sys.stderr.write(f"{e}\n")
    sys.exit(1)
EOF
}

# Bounded poll: up to 30 s for /metrics to answer with the listener's gauges.
deadline=$((SECONDS + 30))
until scrape >"$scratch/metrics" 2>/dev/null && grep -q '^tapstack_listen_backlog_depth{' "$scratch/metrics"; do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    fail "tapstackd exited before serving /metrics:"
    sed 's/^/     /' "$scratch/daemon.log"
    daemon_pid=
    finish
  fi
  if ((SECONDS >= deadline)); then
    fail "no /metrics with listener gauges from tapstackd within 30 s:"
    sed 's/^/     /' "$scratch/daemon.log"
    finish
  fi
  sleep 0.2
done
ok "tapstackd serves /metrics (netns $ns)"

# A few connections from the kernel to the demo listener, so handshakes are counted.
if in_ns python3 - <<'EOF'
import socket, sys
for _ in range(5):
    with socket.create_connection(("198.18.0.2", 8080), timeout=5) as s:
        pass
EOF
then
  ok "5 kernel connections to the demo listener 198.18.0.2:8080"
else
  fail "kernel connections to the demo listener 198.18.0.2:8080"
fi
sleep 0.5
if ! scrape >"$scratch/metrics" 2>"$scratch/scrape.err"; then
  fail "second scrape: $(cat "$scratch/scrape.err")"
  finish
fi

# Sample names in the exposition: metric name up to '{' or ' '.
grep -v '^#' "$scratch/metrics" | sed -E 's/[{ ].*//' | grep -v '^$' | sort -u >"$scratch/exported"
echo "     $(wc -l <"$scratch/exported") metric names exported"

# 1. Every name the dashboard and the rules use.
node "$here/metric_names.mjs" "$root/deploy/grafana/dashboards/tapstack.json" \
  "$root/deploy/prometheus/tapstack-rules.yml" >"$scratch/used" || { fail "metric_names.mjs"; finish; }
missing=0
while IFS=$'\t' read -r name where; do
  if ! grep -qx "$name" "$scratch/exported"; then
    fail "$name is used by $where but tapstackd does not export it"
    missing=$((missing + 1))
  fi
done <"$scratch/used"
((missing == 0)) && ok "all $(wc -l <"$scratch/used") metric names used by the dashboard and the rules are exported"

# 2. The label values the dashboard and the rules select on.
expect_series() {  # DESCRIPTION REGEX
  if grep -Eq "$2" "$scratch/metrics"; then ok "$1"; else fail "$1: no line matches $2"; fi
}
expect_series 'backlog depth, queue="syn", per listener' \
  '^tapstack_listen_backlog_depth\{.*listener="\[::\]:8080".*queue="syn"|^tapstack_listen_backlog_depth\{.*queue="syn".*listener="\[::\]:8080"'
expect_series 'backlog depth, queue="accept", per listener' \
  '^tapstack_listen_backlog_depth\{.*listener="\[::\]:8080".*queue="accept"|^tapstack_listen_backlog_depth\{.*queue="accept".*listener="\[::\]:8080"'
expect_series 'connections, family="ipv4"' '^tapstack_connections\{.*family="ipv4"'
expect_series 'connections, family="ipv6"' '^tapstack_connections\{.*family="ipv6"'
expect_series 'backlog limit, queue="accept"' '^tapstack_listen_backlog_limit\{.*queue="accept"'
expect_series 'backlog limit, queue="syn"' '^tapstack_listen_backlog_limit\{.*queue="syn"'
expect_series 'retransmits, kind="syn"' '^tapstack_syn_retransmits_total\{.*kind="syn"'
expect_series 'retransmits, kind="synack"' '^tapstack_syn_retransmits_total\{.*kind="synack"'
expect_series 'drops by reason (not_our_mac, excluded by TapstackDropsRising)' \
  '^tapstack_dropped_packets_total\{.*reason="not_our_mac"'
expect_series 'drops by reason (arp_not_for_us)' '^tapstack_dropped_packets_total\{.*reason="arp_not_for_us"'
expect_series 'drops by reason (unsupported_ethertype)' \
  '^tapstack_dropped_packets_total\{.*reason="unsupported_ethertype"'
expect_series 'drops by reason (out_of_order_dropped, the data row)' \
  '^tapstack_dropped_packets_total\{.*reason="out_of_order_dropped"'
expect_series 'endpoints, state="established"' '^tapstack_endpoints\{.*state="established"'
expect_series 'handshake histogram +Inf bucket' '^tapstack_handshake_duration_seconds_bucket\{.*le="\+Inf"'
expect_series 'kernel cookie path attached' '^tapstack_kernel_cookie_path_attached 1$'
expect_series 'kernel-path SYN-ACKs, port="8080"' '^tapstack_kernel_cookie_synacks_total\{.*port="8080"'
expect_series 'cookie mode, port="8080"' '^tapstack_listener_cookie_mode\{.*port="8080"'
# Every listener has its admission counters, with every reason, policy or not.
for reason in denied not_allowed rate_limited half_open_cap connection_cap source_table_full; do
  expect_series "admission refusals, reason=\"$reason\", per listener" \
    "^tapstack_listener_syns_refused_total\\{.*listener=\"\\[::\\]:8080\".*reason=\"$reason\"|^tapstack_listener_syns_refused_total\\{.*reason=\"$reason\".*listener=\"\\[::\\]:8080\""
done
expect_series 'admitted SYNs per listener' '^tapstack_listener_syns_admitted_total\{.*listener="\[::\]:8080"'

# 3. The connections above were counted.
value() { awk -v n="$1" '$1 == n {print $2; exit}' "$scratch/metrics"; }
passive=$(value tapstack_passive_opens_total)
if [[ -n $passive ]] && awk -v v="$passive" 'BEGIN {exit !(v >= 5)}'; then
  ok "tapstack_passive_opens_total = $passive after 5 connections"
else
  fail "tapstack_passive_opens_total = '${passive}' after 5 connections"
fi
count=$(value tapstack_handshake_duration_seconds_count)
if [[ -n $count ]] && awk -v v="$count" 'BEGIN {exit !(v >= 5)}'; then
  ok "tapstack_handshake_duration_seconds_count = $count"
else
  fail "tapstack_handshake_duration_seconds_count = '${count}' after 5 connections"
fi

# 4. The exposition passes Prometheus' own lint, when promtool is there.
if command -v promtool >/dev/null; then
  if promtool check metrics <"$scratch/metrics" >"$scratch/lint" 2>&1; then
    ok "promtool check metrics"
  else
    fail "promtool check metrics:"
    sed 's/^/     /' "$scratch/lint"
  fi
fi

finish
