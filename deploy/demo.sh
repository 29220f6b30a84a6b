#!/usr/bin/env bash
# One-command tapstack demo, for a fresh Debian bookworm machine, as root:
#   1. installs the build dependencies with apt-get (skipped when they are all there);
#   2. builds tapstackd and tapstackctl in build/, the test command's release tree: if
#      scripts/test.sh has just built there, ninja finds nothing to do;
#   3. creates the network namespace tapstack-demo with a TAP device in it (kernel side
#      198.18.0.1/24) and starts tapstackd there (198.18.0.2/24) with a demo listener;
#   4. tells you how to connect, how to use tapstackctl, and where the metrics are.
# Ctrl-C stops tapstackd and deletes the namespace (on every other exit path too). Nothing is
# changed outside the namespace: no addresses or routes in the root namespace.
#
# Environment: BUILD_DIR (default build), DEMO_PORT (default 7777), JOBS (default nproc).
set -euo pipefail

NS=tapstack-demo
TAP=tapdemo0
ENGINE=198.18.0.2
KERNEL=198.18.0.1
PORT=${DEMO_PORT:-7777}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (network namespaces and TAP devices need it)"
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing (is the tun module loaded?)"
if ! grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  echo "demo.sh: this is not Debian bookworm; trying anyway" >&2
fi

# --- 1. dependencies
scripts/install-deps.sh  # the same Debian packages as the test command

# --- 2. build
say "building tapstackd and tapstackctl in $BUILD_DIR"
# Configured once, the way scripts/test.sh configures its release build, and never again: a
# configured tree is handed straight to ninja, which rebuilds only what changed (and re-runs
# cmake itself when a CMakeLists.txt did).
if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target tapstackd tapstackctl
TAPSTACKD=$ROOT/$BUILD_DIR/server/tapstackd
TAPSTACKCTL=$ROOT/$BUILD_DIR/server/tapstackctl

# --- 3. namespace, TAP, daemon
daemon_pid=
cleanup() {
  trap - EXIT INT TERM HUP
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  if [[ -e /run/netns/$NS ]]; then
    # Anything still running in the namespace (a client left open in another terminal).
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns delete "$NS"
    echo "demo.sh: namespace $NS deleted"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [[ -e /run/netns/$NS ]]; then
  echo "demo.sh: removing namespace $NS left by an earlier run" >&2
  for pid in $(ip netns pids "$NS"); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns delete "$NS"
fi
say "creating namespace $NS with TAP $TAP ($KERNEL/24 on the kernel side)"
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev "$TAP" mode tap
in_ns ip addr add "$KERNEL/24" dev "$TAP"
in_ns ip link set "$TAP" up

say "starting tapstackd ($ENGINE/24, demo listener on port $PORT)"
# Not through in_ns: $! must be tapstackd itself (ip netns exec execs it in place).
ip netns exec "$NS" "$TAPSTACKD" --tap "$TAP" --address "$ENGINE/24" --demo-listener "$PORT" \
  --grpc-listen 127.0.0.1:50051 --metrics-listen 127.0.0.1:9464 &
daemon_pid=$!
for _ in $(seq 100); do  # up to 10 s for the health check to say SERVING
  kill -0 "$daemon_pid" 2>/dev/null || die "tapstackd exited (see its message above)"
  in_ns "$TAPSTACKCTL" --timeout 1 health >/dev/null 2>&1 && break
  sleep 0.1
done
in_ns "$TAPSTACKCTL" --timeout 1 health >/dev/null || die "tapstackd did not become healthy"

# --- 4. how to use it
cat <<EOF

tapstack is running in network namespace $NS:
  tapstackd (userspace TCP):  $ENGINE/24 on TAP $TAP, demo listener on [::]:$PORT (both families)
  Linux kernel side:          $KERNEL/24
  gRPC API:                   127.0.0.1:50051 inside the namespace
  Prometheus metrics:         http://127.0.0.1:9464/metrics inside the namespace

In another terminal, connect with a kernel client (the demo listener accepts, then closes):
  ip netns exec $NS bash -c 'exec 3<>/dev/tcp/$ENGINE/$PORT && echo connected && cat <&3; echo closed'
  ip netns exec $NS curl -sv telnet://$ENGINE:$PORT </dev/null

Drive it with tapstackctl (the alias saves typing; tsctl --help lists everything):
  alias tsctl='ip netns exec $NS $TAPSTACKCTL'
  tsctl ls                          # endpoints, like ss -tan
  tsctl stats                       # counters, drops by reason, endpoints by state
  tsctl watch                       # live events (Ctrl-C to stop)
  ID=\$(tsctl create)                # prints the new endpoint's id (-o json: all of it)
  tsctl bind \$ID 8080
  tsctl listen \$ID --backlog 16
  ip netns exec $NS bash -c 'exec 3<>/dev/tcp/$ENGINE/8080; sleep 60' &
  tsctl accept \$ID
  tsctl config syncookies=always    # tunables: syncookies, syn_retries, synack_retries
  tsctl -o json ls                  # JSON for scripts

Metrics:
  ip netns exec $NS curl -s http://127.0.0.1:9464/metrics | grep '^tapstack_'

Ctrl-C here stops tapstackd and deletes the namespace.
EOF
wait "$daemon_pid" || true
daemon_pid=
