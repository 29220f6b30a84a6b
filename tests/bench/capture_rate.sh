#!/usr/bin/env bash
# The handshake rate with and without a packet capture running: kernel clients from four source
# addresses (tapstack_connect_load --sources; --close server: the demo listener closes first, as
# servers do) against tapstackd's demo listener over the TAP, rounds alternating between no capture,
# a capture of the listener's handshakes and one of all its frames (tapstackctl capture ... -w
# /dev/null: the reader keeps up, so what is measured is the loop's copying). Prints each round's
# rate and the ratio of the medians to the rate without capture. With --flood PPS every round
# runs under a spoofed SYN flood (tapstack_synflood from 198.19.0.0/16 at PPS, written to the
# TAP), which the capture of the listener's port must filter too.
#
#   tests/bench/capture_rate.sh [--build DIR] [--rounds N] [--seconds S] [--threads T] [--flood PPS]
#
# Runs in a network namespace it creates and deletes (also on failure), addresses from
# 198.18.0.0/15 only. Root.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
rounds=3
seconds=5
threads=2
flood=0
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --flood) flood=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
daemon=$build/server/tapstackd
ctl=$build/server/tapstackctl
load=$build/tests/tapstack_connect_load
synflood=$build/tests/tapstack_synflood
for bin in "$daemon" "$ctl" "$load" "$synflood"; do
  [[ -x $bin ]] || { echo "missing $bin (ninja -C $build tapstackd tapstackctl tapstack_connect_load tapstack_synflood)" >&2; exit 2; }
done
ns=tapstack-capbench-$RANDOM
tap=tcapb0
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap "exit 1" INT TERM
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip addr add 198.18.0.1/24 dev "$tap"
sources=198.18.0.11,198.18.0.12,198.18.0.13,198.18.0.14
for a in ${sources//,/ }; do in_ns ip addr add "$a/24" dev "$tap"; done
in_ns ip link set "$tap" up
# The gateway takes the SYN-ACKs to the flood's off-link sources (the kernel drops them).
in_ns "$daemon" --tap "$tap" --address 198.18.0.2/24 --gateway 198.18.0.1 --demo-listener 7777 \
  >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  in_ns "$ctl" health >/dev/null 2>&1 && break
  sleep 0.1
done

rate() {  # one round: connections per second
  in_ns "$load" --address 198.18.0.2 --port 7777 --threads "$threads" --seconds "$seconds" \
    --close server --sources "$sources" |
    sed -n 's/.*"rate":\([0-9.]*\).*/\1/p'
}
round() {  # $1: none | handshake | all
  local capture=
  if [[ $1 != none ]]; then
    local mode=--all
    [[ $1 == handshake ]] && mode=--handshake
    # Not through in_ns: $! must be tapstackctl itself (ip netns exec execs it), which ends the
    # capture cleanly on SIGTERM; a background shell function would ignore the signal.
    ip netns exec "$ns" "$ctl" capture --port 7777 "$mode" -w /dev/null 2>"$tmp/capture.err" &
    capture=$!
    until grep -q capturing "$tmp/capture.err" 2>/dev/null; do sleep 0.05; done
  fi
  local flooder=
  if ((flood > 0)); then
    in_ns "$synflood" --interface "$tap" --dst-ip 198.18.0.2 --dst-mac 02:00:00:00:00:02 \
      --dst-port 7777 --rate "$flood" --count $((flood * (seconds + 2))) --duration $((seconds + 2)) \
      >/dev/null &
    flooder=$!
  fi
  local r
  r=$(rate)
  if [[ -n $flooder ]]; then
    kill "$flooder" 2>/dev/null || true
    wait "$flooder" 2>/dev/null || true
  fi
  if [[ -n $capture ]]; then
    kill -TERM "$capture"
    wait "$capture" || true
    echo "  $1: $r/s ($(tail -1 "$tmp/capture.err"))" >&2
  else
    echo "  $1: $r/s" >&2
  fi
  echo "$r"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

tmp=$(mktemp -d)
declare -A rates
for ((i = 1; i <= rounds; i++)); do
  echo "round $i" >&2
  for setup in none handshake all; do
    rates[$setup]+="$(round "$setup") "
  done
done
base=$(tr ' ' '\n' <<<"${rates[none]}" | grep . | median)
echo "| capture | handshakes/s (median of $rounds; SYN flood: $flood/s) | ratio to none |"
echo "| --- | --- | --- |"
for setup in none handshake all; do
  m=$(tr ' ' '\n' <<<"${rates[$setup]}" | grep . | median)
  echo "| $setup | $m | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.3f", a / b}') |"
done
rm -rf "$tmp"
