#!/usr/bin/env bash
# Runs a test program inside a network namespace of its own and deletes the namespace on every
# exit path. The program creates its TAP device inside it and uses only 198.18.0.0/15.
set -euo pipefail
ns="tapstack-it-$$-$RANDOM"
cleanup() { ip netns delete "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
TAPSTACK_NETNS="$ns" ip netns exec "$ns" "$@"
