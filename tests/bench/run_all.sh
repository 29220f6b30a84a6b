#!/usr/bin/env bash
# The benchmark suite in one command; prints a table (Markdown) and writes the raw results.
#
#   tests/bench/run_all.sh [--rounds N] [--seconds S] [--flood-seconds S] [--out DIR]
#                          [--workloads rst,server-close,flood,engine]
#
# 1. Engine alone: Google Benchmark on an in-memory link, one core.
# 2. End to end over the TAP: kernel client threads (1 and 4) connect and abort (RST) as fast as
#    they can against, interleaved round by round: tapstackd with its defaults and busy-polling
#    (accepted connections consumed through the gRPC streaming accept), gVisor's netstack on the same TAP, tap_bound (the
#    stateless ceiling of the TAP path) and the Linux kernel's own listener reached over a veth
#    pair. Connections per second, connect latency p50/p99, ratios.
# 2b. Server close (HTTP/1.0 style): the same servers but tap_bound (it keeps no state) close
#    first and the clients read to EOF, then close, from 4 source addresses each, so TIME-WAIT
#    lands on the server side across many tuples. Connections per second, p50 of connect and
#    of connect-to-EOF.
# 3. Under SYN flood (spoofed sources, 198.19.0.0/16): tapstackd and the kernel listener at
#    100k SYN/s and at the highest rate the machine can push; legitimate success and rate,
#    SYN-ACKs per second, resident memory growth.
# Everything runs in two network namespaces this script creates and deletes (also on failure),
# with addresses from 198.18.0.0/15 only. Run as root on Debian bookworm.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rounds=3
seconds=5
flood_seconds=8
out=$root/build-bench/results
workloads=rst,server-close,flood,engine
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --flood-seconds) flood_seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--seconds S] [--flood-seconds S] [--out DIR] [--workloads LIST]" >&2; exit 2 ;;
  esac
done

wanted() { [[ ,$workloads, == *,$1,* ]]; }
# Results of workloads not run this time are not reported.
mkdir -p "$out"
for w in rst:e2e.jsonl server-close:server_close.jsonl flood:flood.jsonl engine:engine.json; do
  wanted "${w%%:*}" || rm -f "$out/${w#*:}"
done

scripts/install-deps.sh
build=$root/build-bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Only what the chosen workloads run.
build_targets=(tapstackd tapstackctl tapstack_connect_load tapstack_kernel_listener tapstack_synflood)
wanted engine && build_targets+=(engine_bench)
cmake --build "$build" -j 2 --target "${build_targets[@]}" >/dev/null
mkdir -p "$build/peers" "$out"
cc -O2 -o "$build/peers/tap_bound" "$root/../shared/peers/tap-bound/tap_bound.c"
[ -x "$build/peers/gvisor-netstack" ] || bash "$root/../shared/peers/gvisor-netstack/build.sh" "$build/peers/gvisor-netstack" >/dev/null

bin=$build/tests
cli=tapstack-bench-$$-c   # clients, the TAP and the TAP-attached servers
srv=tapstack-bench-$$-s   # the kernel listener, reached over veth
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns delete "$cli" 2>/dev/null || true
  ip netns delete "$srv" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$cli"
ip netns add "$srv"
in_cli() { ip netns exec "$cli" "$@"; }
in_srv() { ip netns exec "$srv" "$@"; }
# Servers start with `ip netns exec` itself, not the functions above: a backgrounded function
# is a subshell, and $! would name that shell instead of the server to stop.
in_cli ip link set lo up
in_srv ip link set lo up
in_cli ip tuntap add dev tap0 mode tap
in_cli ip addr add 198.18.0.1/24 dev tap0
in_cli ip link set tap0 up
in_cli ip link add vc type veth peer name vs netns "$srv"
in_cli ip addr add 198.18.1.1/24 dev vc
in_cli ip link set vc up
in_srv ip addr add 198.18.1.2/24 dev vs
in_srv ip link set vs up
# SYN-ACKs to the spoofed off-link flood sources go back to the client namespace, which drops
# them (no route there): the same path the TAP servers' --gateway gives.
in_srv ip route add 198.19.0.0/16 via 198.18.1.1
# Four client source addresses on each link, for the server-close workload.
tap_sources=198.18.0.11,198.18.0.12,198.18.0.13,198.18.0.14
veth_sources=198.18.1.11,198.18.1.12,198.18.1.13,198.18.1.14
for a in ${tap_sources//,/ }; do in_cli ip addr add "$a/24" dev tap0; done
for a in ${veth_sources//,/ }; do in_cli ip addr add "$a/24" dev vc; done
# Every port: Linux's connect() takes even ports only, so the default range gives 14k ports per
# address, four addresses 56k tuples, fewer than tapstackd's 65,536 endpoints; this gives 128k.
in_cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
srv_mac=$(in_srv cat /sys/class/net/vs/address)

# Waits (bounded) until one connection to $1:8080 completes.
wait_ready() {
  for _ in $(seq 100); do
    if in_cli "$bin/tapstack_connect_load" --address "$1" --seconds 0.2 --max-connections 1 |
      grep -q '"connections":1,'; then
      return 0
    fi
  done
  echo "server at $1 never became ready" >&2
  return 1
}

server_pid=""
# How long the gRPC consumer may hold a connection to deliver more with it: 1 ms when the clients
# reset (nobody waits for the server's close), none when they wait for it (server close).
consumer_delay_us=1000
ctl=("$build/server/tapstackctl" --server "unix:$out/tapstackd.sock")
start_server() {  # target -> address clients use
  case $1 in
    tapstack | tapstack-busy-poll)
      rm -f "$out/tapstackd.sock"
      local tuning=()
      [ "$1" = tapstack-busy-poll ] && tuning=(--busy-poll-us 50)
      ip netns exec "$cli" "$build/server/tapstackd" --tap tap0 --address 198.18.0.2/24 --gateway 198.18.0.1 \
        --mac 02:00:00:00:00:02 --grpc-listen "unix:$out/tapstackd.sock" --metrics-listen off \
        --log-level warning "${tuning[@]}" >"$out/tapstackd.log" 2>&1 &
      server_pid=$!
      pids+=("$server_pid")
      for _ in $(seq 100); do "${ctl[@]}" --timeout 1 health >/dev/null 2>&1 && break; done
      listener=$("${ctl[@]}" -o json create | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
      "${ctl[@]}" bind "$listener" 8080 >/dev/null
      "${ctl[@]}" listen "$listener" --backlog 4096 >/dev/null
      # Accepted connections are consumed by a gRPC client through the streaming accept.
      "${ctl[@]}" accept "$listener" --stream --after close --max-delay-us "$consumer_delay_us" --quiet >"$out/consumer.log" 2>&1 &
      pids+=("$!")
      addr=198.18.0.2 ;;
    gvisor)
      ip netns exec "$cli" "$build/peers/gvisor-netstack" -tap tap0 -addr 198.18.0.2/24 -port 8080 \
        -gateway 198.18.0.1 >"$out/gvisor.log" 2>&1 &
      server_pid=$!; pids+=("$server_pid"); addr=198.18.0.2 ;;
    tap_bound)
      ip netns exec "$cli" "$build/peers/tap_bound" tap0 198.18.0.2 >"$out/tap_bound.log" 2>&1 &
      server_pid=$!; pids+=("$server_pid"); addr=198.18.0.2 ;;
    kernel)
      ip netns exec "$srv" "$bin/tapstack_kernel_listener" 198.18.1.2 8080 >"$out/kernel.log" 2>&1 &
      server_pid=$!; pids+=("$server_pid"); addr=198.18.1.2 ;;
  esac
  wait_ready "$addr"
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  # The TAP takes its next server only once the last one's file is gone: the kernel drops the
  # carrier then (a process's exit can leave it held a moment longer). Bounded wait.
  for _ in $(seq 100); do
    [ "$(in_cli cat /sys/class/net/tap0/carrier 2>/dev/null)" != 1 ] && break
    sleep 0.05
  done
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# run_rounds FILE CLOSE TARGET...: every target, both thread counts, round by round.
run_rounds() {
  local results=$1 close=$2
  shift 2
  local targets=("$@") round shift_by order target threads sources line
  : >"$results"
  for round in $(seq "$rounds"); do
    # Rotate the order each round so no target always runs first (or last) on a warm machine.
    shift_by=$(((round - 1) % ${#targets[@]}))
    order=("${targets[@]:shift_by}" "${targets[@]:0:shift_by}")
    for target in "${order[@]}"; do
      start_server "$target"
      sources=()
      if [ "$close" = server ]; then
        [ "$target" = kernel ] && sources=(--sources "$veth_sources") || sources=(--sources "$tap_sources")
      fi
      for threads in 1 4; do
        line=$(in_cli "$bin/tapstack_connect_load" --address "$addr" --threads "$threads" \
          --seconds "$seconds" --close "$close" "${sources[@]}")
        echo "{\"round\":$round,\"target\":\"$target\",${line:1}" >>"$results"
        echo "  round $round $target threads=$threads $line" >&2
      done
      stop_server
    done
  done
}

# tapstack twice: with its defaults, and busy-polling 50 us after input (--busy-poll-us 50).
if wanted rst; then
  echo "== end to end (RST): $rounds rounds x ${seconds}s per run" >&2
  run_rounds "$out/e2e.jsonl" rst tapstack tapstack-busy-poll gvisor tap_bound kernel
fi
if wanted server-close; then
  echo "== end to end (server close): $rounds rounds x ${seconds}s per run" >&2
  consumer_delay_us=0
  run_rounds "$out/server_close.jsonl" server tapstack tapstack-busy-poll gvisor kernel
  consumer_delay_us=1000
fi

if wanted flood; then
  echo "== under SYN flood: ${flood_seconds}s per run" >&2
  flood_results=$out/flood.jsonl
  : >"$flood_results"
  rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
  for target in tapstack tapstack-busy-poll kernel; do
    for rate in 100000 0; do
      start_server "$target"
      # Frames the server sent, read off its link: nearly all SYN-ACKs while the flood runs.
      if [ "$target" != kernel ]; then
        iface=tap0; mac=02:00:00:00:00:02; dst=198.18.0.2; rss_pid=$server_pid
        server_frames() { in_cli cat /sys/class/net/tap0/statistics/rx_packets; }
      else
        iface=vc; mac=$srv_mac; dst=198.18.1.2; rss_pid=""
        server_frames() { in_srv cat /sys/class/net/vs/statistics/tx_packets; }
      fi
      before_synacks=$(server_frames)
      rss_before=$([ -n "$rss_pid" ] && rss_kb "$rss_pid" || echo 0)
      ip netns exec "$cli" "$bin/tapstack_synflood" --interface "$iface" --dst-ip "$dst" --dst-mac "$mac" \
        --dst-port 8080 --rate "$rate" --duration "$flood_seconds" --count 100000000 \
        >"$out/flood-$target-$rate.log" 2>&1 &
      flood=$!
      line=$(in_cli "$bin/tapstack_connect_load" --address "$dst" --threads 1 --seconds "$((flood_seconds - 2))")
      wait "$flood" || true
      after_synacks=$(server_frames)
      rss_after=$([ -n "$rss_pid" ] && rss_kb "$rss_pid" || echo 0)
      synacks_per_s=$(((after_synacks - before_synacks) / flood_seconds))
      # "offered N SYNs in T s: X SYNs/s; the TAP took M (Y/s) and refused R"
      offered_per_s=$(sed -n 's/^offered .*: \([0-9]*\) SYNs\/s;.*/\1/p' "$out/flood-$target-$rate.log")
      echo "{\"target\":\"$target\",\"flood_rate\":$rate,\"flood_offered_per_s\":${offered_per_s:-0},\"synacks_per_s\":$synacks_per_s,\"rss_before_kb\":$rss_before,\"rss_after_kb\":$rss_after,${line:1}" >>"$flood_results"
      echo "  $target flood=$rate synacks/s=$synacks_per_s $line" >&2
      stop_server
    done
  done
fi

if wanted engine; then
  echo "== engine alone" >&2
  "$bin/engine_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_format=json --benchmark_out="$out/engine.json" >/dev/null 2>&1
fi

python3 "$root/tests/bench/report.py" "$out"
