#!/usr/bin/env bash
# The benchmark suite in one command; prints a table (Markdown) and writes the raw results.
#
#   tests/bench/run_all.sh [--rounds N] [--seconds S] [--flood-seconds S] [--out DIR]
#                          [--workloads rst,server-close,flood,bulk,rr,engine]
#                          [--threads 1,4] [--queues 1] [--connections 1,16] [--loss 0,10]
#
# 1. Engine alone: Google Benchmark on an in-memory link, one core.
# 2. End to end over the TAP: kernel client threads (each count of --threads) connect and abort
#    (RST) as fast as they can against, interleaved round by round: tapstackd with its defaults
#    and busy-polling (accepted connections consumed through the gRPC streaming accept), gVisor's
#    netstack on the same TAP, tap_bound (the stateless ceiling of the TAP path) and the Linux
#    kernel's own listener reached over a veth pair. Connections per second, connect latency
#    p50/p99, ratios (between rows of the same queue and thread counts).
#    Each count Q of --queues runs the servers at that scale: the TAP created with multi_queue
#    when Q > 1, tap_bound serving Q queues (one thread each), the kernel listener with Q accept
#    threads (one SO_REUSEPORT socket each), tapstackd with --queues Q (one engine loop per
#    queue). gVisor's netstack opens the TAP without IFF_MULTI_QUEUE, which a multi-queue TAP
#    refuses (EINVAL): for Q > 1 its rows say so ("skipped" in the results, n/a in the tables).
# 2b. Server close (HTTP/1.0 style): the same servers but tap_bound (it keeps no state) close
#    first and the clients read to EOF, then close, from 4 source addresses each, so TIME-WAIT
#    lands on the server side across many tuples. Connections per second, p50 of connect and
#    of connect-to-EOF. Thread and queue counts as in 2.
# 3. Under flood (spoofed sources, 198.19.0.0/16), of SYNs and then of bare ACKs (forged
#    cookies): tapstackd with its defaults (the kernel cookie path on), tapstackd answering cookies
#    in user space (--kernel-cookies off) and the kernel listener, at 100k segments/s and at the
#    highest rate the machine can push, while 2 kernel client threads connect (ACKs to a listener
#    put in cookie mode by a SYN burst first, and, for comparison, to one that is not): legitimate rate,
#    failures, p50 connect, the clients' SYN retransmissions (their namespace's TcpExtTCPSynRetrans),
#    resident memory growth, the kernel cookie path's counters and its own timing per run
#    (bpftool's run_time_ns / run_cnt with kernel.bpf_stats_enabled=1, restored afterwards).
#    On a single-queue TAP, whatever --queues says.
# 4. Data (bulk, rr): kernel clients (tapstack_data_load, each count of --connections) against
#    echo and discard servers, interleaved round by round: tapstackd's demo listener
#    (--demo-mode echo|discard, its default buffers), gVisor's netstack (-mode echo|discard) on
#    the same TAP, and the kernel listener (echo|discard) over veth. bulk: goodput streaming to
#    a discard server (bulk-send) and streamed back from an echo server (bulk-recv); rr: 1 KiB
#    request, 1 KiB answer, on a new connection each time (rr-new) and on kept-alive ones
#    (rr-keep). Each loss rate of --loss (per mille) other than 0 drops that share of the
#    server's data frames at random where they arrive in the client namespace (tapstack_impair
#    on tap0's ingress, on the veth end vc's ingress): after the sender, so a real loss. The
#    other way (client to server) is not impaired: on a TAP the only hook on that path is the
#    sender's own egress, and a drop there is a local congestion signal to the sending kernel
#    (NET_XMIT_DROP: CWR, the segment sent again without counting as lost), not a loss on the
#    wire. So bulk-send, whose data goes that way, runs without loss only. The kernel's frames
#    over veth are GSO packets of many segments (about 25 on average in bulk-recv), so its losses
#    come as fewer, larger bursts than the TAP servers' one-segment frames; left so, because with
#    gso_max_segs 1 the kernel over veth falls to about 26 MB/s even without loss.
#    tapstackd's RSS and its counters around every run.
# Everything runs in two network namespaces this script creates and deletes (also on failure),
# with addresses from 198.18.0.0/15 only. Run as root on Debian bookworm.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rounds=3
seconds=5
flood_seconds=8
out=$root/build-bench/results
workloads=rst,server-close,flood,bulk,rr,engine
thread_counts=1,4
queue_counts=1
connection_counts=1,16
loss_rates=0,10
usage="usage: $0 [--rounds N] [--seconds S] [--flood-seconds S] [--out DIR] [--workloads LIST] [--threads LIST] [--queues LIST] [--connections LIST] [--loss LIST]"
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --flood-seconds) flood_seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --threads) thread_counts=$2; shift 2 ;;
    --queues) queue_counts=$2; shift 2 ;;
    --connections) connection_counts=$2; shift 2 ;;
    --loss) loss_rates=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
# Comma-separated counts; tap_bound serves at most 64 queues.
[[ $thread_counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "$usage" >&2; exit 2; }
[[ $queue_counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "$usage" >&2; exit 2; }
[[ $connection_counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "$usage" >&2; exit 2; }
[[ $loss_rates =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "$usage" >&2; exit 2; }
for q in ${queue_counts//,/ }; do ((q <= 64)) || { echo "--queues: at most 64" >&2; exit 2; }; done

wanted() { [[ ,$workloads, == *,$1,* ]]; }
# Results of workloads not run this time are not reported.
mkdir -p "$out"
for w in rst:e2e.jsonl server-close:server_close.jsonl flood:flood.jsonl flood:kernel_path_timing.txt bulk:bulk.jsonl rr:rr.jsonl engine:engine.json; do
  wanted "${w%%:*}" || rm -f "$out/${w#*:}"
done

scripts/install-deps.sh
build=$root/build-bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Only what the chosen workloads run.
build_targets=(tapstackd tapstackctl tapstack_connect_load tapstack_kernel_listener tapstack_synflood)
wanted engine && build_targets+=(engine_bench)
{ wanted bulk || wanted rr; } && build_targets+=(tapstack_data_load tapstack_impair)
# The flood workload also reports the kernel cookie path's time per frame as BPF_PROG_TEST_RUN
# measures it (tests/integration/cookie_path_program_test.cc, KernelTimePerFrame).
wanted flood && build_targets+=(integration_tests)
cmake --build "$build" -j 2 --target "${build_targets[@]}" >/dev/null
mkdir -p "$build/peers" "$out"
cc -O2 -pthread -o "$build/peers/tap_bound" "$root/../shared/peers/tap-bound/tap_bound.c"
[ -x "$build/peers/gvisor-netstack" ] || bash "$root/../shared/peers/gvisor-netstack/build.sh" "$build/peers/gvisor-netstack" >/dev/null

bin=$build/tests
cli=tapstack-bench-$$-c   # clients, the TAP and the TAP-attached servers
srv=tapstack-bench-$$-s   # the kernel listener, reached over veth
pids=()
restore_bpf_stats() { :; }  # the flood workload sets kernel.bpf_stats_enabled and restores it
cleanup() {
  restore_bpf_stats
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
for a in ${veth_sources//,/ }; do in_cli ip addr add "$a/24" dev vc; done
# Every port: Linux's connect() takes even ports only, so the default range gives 14k ports per
# address, four addresses 56k tuples, fewer than tapstackd's 65,536 endpoints; this gives 128k.
in_cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
srv_mac=$(in_srv cat /sys/class/net/vs/address)

# The TAP with $1 queues (multi_queue when more than one), made anew when the count changes:
# a TAP's kind is fixed at creation.
tap_queues=0
use_tap() {
  [ "$tap_queues" = "$1" ] && return 0
  in_cli ip link delete tap0 2>/dev/null || true
  local kind=()
  (($1 > 1)) && kind=(multi_queue)
  in_cli ip tuntap add dev tap0 mode tap "${kind[@]}"
  in_cli ip addr add 198.18.0.1/24 dev tap0
  for a in ${tap_sources//,/ }; do in_cli ip addr add "$a/24" dev tap0; done
  in_cli ip link set tap0 up
  tap_queues=$1
}
use_tap 1
# Why TARGET cannot serve a TAP of $2 queues, or nothing when it can. A multi-queue TAP refuses
# an attach without IFF_MULTI_QUEUE (EINVAL), and gVisor's netstack opens one queue that way.
cannot_serve() {
  (($2 == 1)) && return 0
  case $1 in
    gvisor) echo "opens one queue only" ;;
  esac
}

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
queues=1  # the scale of the TAP servers and the kernel listener (start_server)
# What the servers do with a connection: close it (the connection workloads), or echo or
# discard its data (tapstackd's demo listener then serves it, no gRPC consumer).
serve_mode=close
# How long the gRPC consumer may hold a connection to deliver more with it: 1 ms when the clients
# reset (nobody waits for the server's close), none when they wait for it (server close).
consumer_delay_us=1000
ctl=("$build/server/tapstackctl" --server "unix:$out/tapstackd.sock")
start_server() {  # target -> address clients use
  case $1 in
    tapstack | tapstack-busy-poll | tapstack-user-cookies)
      rm -f "$out/tapstackd.sock"
      local tuning=()
      [ "$1" = tapstack-busy-poll ] && tuning=(--busy-poll-us 50)
      [ "$1" = tapstack-user-cookies ] && tuning=(--kernel-cookies off)
      [ "$serve_mode" != close ] && tuning+=(--demo-listener 8080 --demo-mode "$serve_mode")
      ip netns exec "$cli" "$build/server/tapstackd" --tap tap0 --address 198.18.0.2/24 --gateway 198.18.0.1 \
        --mac 02:00:00:00:00:02 --grpc-listen "unix:$out/tapstackd.sock" --metrics-listen off \
        --log-level warning --queues "$queues" "${tuning[@]}" >"$out/tapstackd.log" 2>&1 &
      server_pid=$!
      pids+=("$server_pid")
      for _ in $(seq 100); do "${ctl[@]}" --timeout 1 health >/dev/null 2>&1 && break; done
      addr=198.18.0.2
      [ "$serve_mode" != close ] && { wait_ready "$addr"; return; }
      listener=$("${ctl[@]}" -o json create | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
      "${ctl[@]}" bind "$listener" 8080 >/dev/null
      "${ctl[@]}" listen "$listener" --backlog 4096 >/dev/null
      # Accepted connections are consumed by a gRPC client through the streaming accept.
      "${ctl[@]}" accept "$listener" --stream --after close --max-delay-us "$consumer_delay_us" --quiet >"$out/consumer.log" 2>&1 &
      pids+=("$!")
      addr=198.18.0.2 ;;
    gvisor)
      ip netns exec "$cli" "$build/peers/gvisor-netstack" -tap tap0 -addr 198.18.0.2/24 -port 8080 \
        -gateway 198.18.0.1 -mode "$serve_mode" >"$out/gvisor.log" 2>&1 &
      server_pid=$!; pids+=("$server_pid"); addr=198.18.0.2 ;;
    tap_bound)
      ip netns exec "$cli" "$build/peers/tap_bound" tap0 198.18.0.2 "$queues" >"$out/tap_bound.log" 2>&1 &
      server_pid=$!; pids+=("$server_pid"); addr=198.18.0.2 ;;
    kernel)
      ip netns exec "$srv" "$bin/tapstack_kernel_listener" 198.18.1.2 8080 "$queues" "$serve_mode" >"$out/kernel.log" 2>&1 &
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

# A process's resident memory now (VmRSS) and at its peak so far (VmHWM), in KiB.
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }

# run_rounds FILE CLOSE TARGET...: every target, queue count and thread count, round by round.
run_rounds() {
  local results=$1 close=$2
  shift 2
  local targets=("$@") round shift_by order target threads sources line why
  : >"$results"
  for round in $(seq "$rounds"); do
    # Rotate the order each round so no target always runs first (or last) on a warm machine.
    shift_by=$(((round - 1) % ${#targets[@]}))
    order=("${targets[@]:shift_by}" "${targets[@]:0:shift_by}")
    for queues in ${queue_counts//,/ }; do
      use_tap "$queues"
      for target in "${order[@]}"; do
        why=$(cannot_serve "$target" "$queues")
        if [ -n "$why" ]; then
          for threads in ${thread_counts//,/ }; do
            echo "{\"round\":$round,\"target\":\"$target\",\"queues\":$queues,\"threads\":$threads,\"skipped\":\"$why\"}" >>"$results"
          done
          echo "  round $round $target queues=$queues skipped: $why" >&2
          continue
        fi
        start_server "$target"
        sources=()
        if [ "$close" = server ]; then
          [ "$target" = kernel ] && sources=(--sources "$veth_sources") || sources=(--sources "$tap_sources")
        fi
        for threads in ${thread_counts//,/ }; do
          line=$(in_cli "$bin/tapstack_connect_load" --address "$addr" --threads "$threads" \
            --seconds "$seconds" --close "$close" "${sources[@]}")
          echo "{\"round\":$round,\"target\":\"$target\",\"queues\":$queues,${line:1}" >>"$results"
          echo "  round $round $target queues=$queues threads=$threads $line" >&2
        done
        stop_server
      done
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
  echo "== under flood (spoofed SYNs, then spoofed ACKs): ${flood_seconds}s per run" >&2
  flood_results=$out/flood.jsonl
  : >"$flood_results"
  queues=1
  use_tap 1
  # The legitimate clients' SYN retransmissions, from their namespace's own SNMP counters: the
  # flood's frames never touch that stack (AF_PACKET), so every one counted is a client's. Failed
  # connects included, which TCP_INFO in tapstack_connect_load cannot see.
  syn_retransmits() { in_cli nstat -asz TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" {print $2}'; }
  # Frames the kernel dropped because a CPU's input backlog (netdev_max_backlog) was full, the whole
  # machine's (/proc/net/softnet_stat, second column): where a SYN-ACK for a client can be lost
  # among the flood's answers, whichever server sent it.
  backlog_drops() { python3 -c 'print(sum(int(l.split()[1], 16) for l in open("/proc/net/softnet_stat")))'; }
  # tapstackd's counters the flood moves: the engine's, the TAP's queue drops, and the kernel
  # cookie path's for the listener's port (kernel_*), as one JSON object.
  server_counters() {
    "${ctl[@]}" -o json stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
names = ("frames_received", "syns_received", "synacks_sent", "syncookies_sent", "syncookies_validated",
         "syncookies_failed", "resets_sent", "syn_queue_full", "tap_queue_drops",
         "kernel_cookie_resets_sent", "cookie_mode_entered")
out = {c["name"]: int(c["value"]) for c in s["counters"] if c["name"] in names}
for l in s.get("kernel_cookie_listeners", []):
    if l["port"] == 8080:
        out |= {"kernel_" + k: int(l[k]) for k in ("synacks", "acks_passed", "acks_refused", "syns_dropped")}
        out["kernel_cookie_mode"] = bool(l["cookie_mode"])
print(json.dumps(out))'
  }
  # The kernel path's own timing while the flood runs: run_cnt and run_time_ns of the program on
  # tap0's egress (kernel.bpf_stats_enabled, set for this workload only); {} without one.
  bpf_run_stats() {
    local id
    id=$(in_cli bpftool -j net show dev tap0 | python3 -c '
import json, sys
print(next((p.get("prog_id", p.get("id")) for d in json.load(sys.stdin) for p in d.get("tc", [])
            if p.get("kind") == "clsact/egress"), ""))')
    if [ -z "$id" ]; then echo '{}'; return; fi
    bpftool -j prog show id "$id" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(json.dumps({"run_cnt": p.get("run_cnt", 0), "run_time_ns": p.get("run_time_ns", 0)}))'
  }
  bpf_stats_were=$(sysctl -n kernel.bpf_stats_enabled)
  restore_bpf_stats() { sysctl -qw kernel.bpf_stats_enabled="$bpf_stats_were"; }
  sysctl -qw kernel.bpf_stats_enabled=1
  # Whether the listener is in cookie mode: its SYN table is full (ours: the mode the engine
  # publishes to the kernel path, or with the path off a SYN that found the table full; Linux:
  # it sent cookies), which holds while the spoofed requests wait out their retries.
  in_cookie_mode() {
    if [ "$target" = kernel ]; then
      (($(in_srv nstat -asz TcpExtSyncookiesSent | awk '$1 == "TcpExtSyncookiesSent" {print $2}') > 0))
    else
      server_counters | python3 -c '
import json, sys
c = json.load(sys.stdin)
sys.exit(0 if c.get("kernel_cookie_mode") or c["syn_queue_full"] > 0 else 1)'
    fi
  }
  # A listener in cookie mode, as a SYN flood leaves it: 10,000 spoofed SYNs at 100k/s, then a
  # bounded wait until the server shows it.
  enter_cookie_mode() {
    ip netns exec "$cli" "$bin/tapstack_synflood" --interface "$iface" --dst-ip "$dst" --dst-mac "$mac" \
      --dst-port 8080 --rate 100000 --count 10000 >/dev/null
    for _ in $(seq 100); do
      in_cookie_mode && return 0
      sleep 0.05
    done
    echo "the $target listener never entered cookie mode" >&2
    return 1
  }
  # syn: spoofed SYNs. ack: spoofed bare ACKs (forged cookies) to a listener in cookie mode, the
  # issue's case. ack-no-cookie-mode: the same ACKs alone, to a listener whose SYN table never
  # overflowed (Linux then answers each with RST, cookies unchecked).
  for kind in syn ack ack-no-cookie-mode; do
    flood_kind=()
    [ "$kind" != syn ] && flood_kind=(--ack)
    # tapstackd with its defaults (the kernel cookie path on, syncookies auto), the same with
    # cookies answered in user space (--kernel-cookies off), and the kernel's own listener.
    for target in tapstack tapstack-user-cookies kernel; do
      for rate in 100000 0; do
        start_server "$target"
        # Frames the server sent, read off its link: the engine's SYN-ACKs (and RSTs) while the
        # flood runs. The kernel path's answers go back into the TAP from the sender's context,
        # past these counters; it counts them itself (kernel_synacks, kernel_cookie_resets_sent).
        if [ "$target" != kernel ]; then
          iface=tap0; mac=02:00:00:00:00:02; dst=198.18.0.2; rss_pid=$server_pid
          server_frames() { in_cli cat /sys/class/net/tap0/statistics/rx_packets; }
          counters() { server_counters; }
        else
          iface=vc; mac=$srv_mac; dst=198.18.1.2; rss_pid=""
          server_frames() { in_srv cat /sys/class/net/vs/statistics/tx_packets; }
          counters() { echo '{}'; }
        fi
        [ "$kind" = ack ] && enter_cookie_mode
        before_frames=$(server_frames)
        before_counters=$(counters)
        before_bpf=$(bpf_run_stats)
        before_retrans=$(syn_retransmits)
        before_backlog=$(backlog_drops)
        rss_before=$([ -n "$rss_pid" ] && rss_kb "$rss_pid" || echo 0)
        ip netns exec "$cli" "$bin/tapstack_synflood" --interface "$iface" --dst-ip "$dst" --dst-mac "$mac" \
          --dst-port 8080 --rate "$rate" --duration "$flood_seconds" --count 100000000 "${flood_kind[@]}" \
          >"$out/flood-$kind-$target-$rate.log" 2>&1 &
        flood=$!
        # The clients start once the flood runs and stop before it does.
        sleep 1
        line=$(in_cli "$bin/tapstack_connect_load" --address "$dst" --threads 2 --seconds "$((flood_seconds - 2))")
        wait "$flood" || true
        after_frames=$(server_frames)
        after_counters=$(counters)
        after_bpf=$(bpf_run_stats)
        after_retrans=$(syn_retransmits)
        after_backlog=$(backlog_drops)
        rss_after=$([ -n "$rss_pid" ] && rss_kb "$rss_pid" || echo 0)
        # "offered N SYNs in T s: X SYNs/s; the TAP took M (Y/s) and refused R; its queue dropped D"
        flood_log=$out/flood-$kind-$target-$rate.log
        offered=$(sed -n 's/^offered \([0-9]*\) .*/\1/p' "$flood_log")
        offered_per_s=$(sed -n 's/^offered .*: \([0-9]*\) [A-Z]*s\/s;.*/\1/p' "$flood_log")
        refused=$(sed -n 's/.* and refused \([0-9]*\);.*/\1/p' "$flood_log")
        dropped=$(sed -n 's/.* its queue dropped \([0-9]*\)$/\1/p' "$flood_log")
        echo "{\"flood\":\"$kind\",\"target\":\"$target\",\"queues\":$queues,\"flood_rate\":$rate,\"flood_seconds\":$flood_seconds,\"flood_offered\":${offered:-0},\"flood_offered_per_s\":${offered_per_s:-0},\"flood_refused\":${refused:-0},\"flood_link_dropped\":${dropped:-0},\"server_frames\":$((after_frames - before_frames)),\"syn_retransmits\":$((after_retrans - before_retrans)),\"backlog_drops\":$((after_backlog - before_backlog)),\"counters_before\":$before_counters,\"counters_after\":$after_counters,\"bpf_before\":$before_bpf,\"bpf_after\":$after_bpf,\"rss_before_kb\":$rss_before,\"rss_after_kb\":$rss_after,${line:1}" >>"$flood_results"
        echo "  $kind flood=$rate $target syn-retransmits=$((after_retrans - before_retrans)) $line" >&2
        stop_server
      done
    done
  done
  restore_bpf_stats
  # The kernel's own timing of the program outside any flood: BPF_PROG_TEST_RUN on crafted frames.
  "$root/tests/integration/in_netns.sh" "$bin/integration_tests" --gtest_filter='*KernelTimePerFrame*' |
    grep '^kernel cookie path' >"$out/kernel_path_timing.txt" || true
fi

# Data workloads (4. above): every round, every loss rate and target in rotating order, each
# server mode once (discard for bulk-send, echo for the rest) with every load mode and connection
# count against it.
if wanted bulk || wanted rr; then
  echo "== data: $rounds rounds x ${seconds}s per run, connections $connection_counts, loss (per mille) $loss_rates" >&2
  queues=1
  use_tap 1
  # rr-new ends each connection on our side first (TIME-WAIT here, across 4 source addresses):
  # reuse such a tuple after 1 s, as a busy Linux client would be set up to.
  in_cli sysctl -qw net.ipv4.tcp_tw_reuse=1
  load_modes=()
  wanted bulk && load_modes+=(discard:bulk-send echo:bulk-recv)
  wanted rr && load_modes+=(echo:rr-keep echo:rr-new)
  for w in bulk rr; do wanted "$w" && : >"$out/$w.jsonl"; done
  : >"$out/impairment.jsonl"
  # Every counter and drop reason of tapstackd as one flat JSON object (drops as drop_NAME).
  all_counters() {
    "${ctl[@]}" -o json stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
out = {c["name"]: int(c.get("value", 0)) for c in s.get("counters", [])}
out |= {"drop_" + c["name"]: int(c.get("value", 0)) for c in s.get("drops", [])}
print(json.dumps(out))'
  }
  # Where tapstack_impair drops the server's data for a target (namespace:device:hook ...).
  impair_hooks() {
    case $1 in
      kernel) echo "$cli:vc:ingress" ;;
      *) echo "$cli:tap0:ingress" ;;
    esac
  }
  impair_pids=()
  start_impairment() {  # TARGET LOSS_PERMILLE
    local h ns dev hook log
    impair_pids=()
    for h in $(impair_hooks "$1"); do
      IFS=: read -r ns dev hook <<<"$h"
      log=$out/impair-$dev-$hook.log
      ip netns exec "$ns" "$bin/tapstack_impair" --dev "$dev" --direction "$hook" --loss-permille "$2" \
        --duration 600 >"$log" 2>&1 &
      impair_pids+=("$!")
      pids+=("$!")
      for _ in $(seq 100); do grep -q '^attached' "$log" && break; sleep 0.05; done
      grep -q '^attached' "$log" || { echo "tapstack_impair on $dev $hook never attached: $(cat "$log")" >&2; return 1; }
    done
  }
  # Stops the impairment and records what it dropped, summed over its hooks, in impairment.jsonl.
  stop_impairment() {  # ROUND TARGET LOSS_PERMILLE
    local p dropped=0 segments=0 log
    for p in "${impair_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    for log in "$out"/impair-*.log; do
      dropped=$((dropped + $(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' "$log" | tail -1)))
      segments=$((segments + $(sed -n 's/^data_segments=\([0-9]*\).*/\1/p' "$log" | tail -1)))
    done
    rm -f "$out"/impair-*.log
    impair_pids=()
    echo "{\"round\":$1,\"target\":\"$2\",\"serve_mode\":\"$serve_mode\",\"loss_permille\":$3,\"data_segments\":$segments,\"dropped\":$dropped}" |
      tee -a "$out/impairment.jsonl" >&2
  }
  data_targets=(tapstack gvisor kernel)
  for round in $(seq "$rounds"); do
    shift_by=$(((round - 1) % ${#data_targets[@]}))
    order=("${data_targets[@]:shift_by}" "${data_targets[@]:0:shift_by}")
    for loss in ${loss_rates//,/ }; do
      impaired=$((loss > 0))
      for target in "${order[@]}"; do
        for serve_mode in discard echo; do
          modes=()
          for m in "${load_modes[@]}"; do
            # bulk-send's data goes the way no loss is put on (see 4. above).
            [ "${m%%:*}" = "$serve_mode" ] && ! { ((impaired)) && [ "${m#*:}" = bulk-send ]; } && modes+=("${m#*:}")
          done
          ((${#modes[@]})) || continue
          start_server "$target"
          ((impaired)) && start_impairment "$target" "$loss"
          [ "$target" = kernel ] && sources=$veth_sources || sources=$tap_sources
          ours=0
          [ "$target" = tapstack ] && ours=1
          rss_start=$( ((ours)) && rss_kb "$server_pid" || echo 0)
          for mode in "${modes[@]}"; do
            for connections in ${connection_counts//,/ }; do
              before=$( ((ours)) && all_counters || echo '{}')
              rss_before=$( ((ours)) && rss_kb "$server_pid" || echo 0)
              line=$(in_cli "$bin/tapstack_data_load" --mode "$mode" --address "$addr" \
                --connections "$connections" --seconds "$seconds" --sources "$sources")
              after=$( ((ours)) && all_counters || echo '{}')
              rss_after=$( ((ours)) && rss_kb "$server_pid" || echo 0)
              hwm=$( ((ours)) && hwm_kb "$server_pid" || echo 0)
              [[ $mode == bulk-* ]] && file=$out/bulk.jsonl || file=$out/rr.jsonl
              echo "{\"round\":$round,\"target\":\"$target\",\"loss_permille\":$loss,\"rss_start_kb\":$rss_start,\"rss_before_kb\":$rss_before,\"rss_after_kb\":$rss_after,\"hwm_kb\":$hwm,\"counters_before\":$before,\"counters_after\":$after,${line:1}" >>"$file"
              echo "  round $round loss=$loss $target $line" >&2
            done
          done
          ((impaired)) && stop_impairment "$round" "$target" "$loss"
          stop_server
        done
      done
    done
  done
  serve_mode=close
fi

if wanted engine; then
  echo "== engine alone" >&2
  "$bin/engine_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_format=json --benchmark_out="$out/engine.json" >/dev/null 2>&1
fi

python3 "$root/tests/bench/report.py" "$out"
