#!/usr/bin/env bash
# The soak test (slow suite; not part of scripts/test.sh): a real tapstackd on a TAP in a network
# namespace of its own, for --duration seconds (default 600) under, all at once:
#   - mixed legitimate load at the machine's maximum rate, from 4 source addresses: connections
#     ended by RST, closed first by the client, and closed first by the server (the client reads
#     to EOF); tapstack_connect_load, one process per kind; the listener's connections are taken
#     by a gRPC StreamAccept consumer that closes each at once (tapstackctl accept --stream
#     --after close --max-delay-us 0: server-close clients wait for that close);
#   - spoofed SYNs (tapstack_synflood, off-link sources 198.19.0.0/16) at --flood-rate;
#   - ARP noise: who-has for the daemon's address from random senders and MACs, half on the
#     link's /24 (not its hosts' addresses), half elsewhere in 198.18.0.0/15 (tapstack_arpnoise),
#     at --arp-rate in all;
#   - --watchers idle WatchEvents streams (idle_watchers.py), never read.
# It asserts, and exits non-zero if any fails:
#   - no legitimate connection failed after the warm-up (--warmup seconds);
#   - tapstackd's resident memory, sampled every 10 s, stays within +-10 % of its first sample
#     after the warm-up;
#   - every idle stream is still open at the end, and the daemon is still running;
# and prints every counter of GetStats and every tapstack_* sample of /metrics at the end of the
# warm-up and at the end, with the delta, so each can be explained.
#
#   tests/soak/run.sh [--duration S] [--warmup S] [--threads N] [--flood-rate PPS]
#                     [--arp-rate PPS] [--watchers N] [--build DIR] [--out DIR]
#                     [-- TAPSTACKD_FLAGS...]
#
# --build: a configured build tree (default build/, the test command's release tree); ninja
# builds what is missing or stale. Everything runs in the namespace tapstack-it-soak-PID, with
# addresses from 198.18.0.0/15 only, deleted on every exit path. Run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=600
warmup=
threads=2
flood_rate=20000
arp_rate=1000
watchers=1000
build=$root/build
out=
daemon_flags=()
usage() {
  echo "usage: $0 [--duration S] [--warmup S] [--threads N] [--flood-rate PPS] [--arp-rate PPS]" \
    "[--watchers N] [--build DIR] [--out DIR] [-- TAPSTACKD_FLAGS...]" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --flood-rate) flood_rate=$2; shift 2 ;;
    --arp-rate) arp_rate=$2; shift 2 ;;
    --watchers) watchers=$2; shift 2 ;;
    --build) build=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; daemon_flags=("$@"); break ;;
    *) usage ;;
  esac
done
# TIME-WAIT lasts 60 s: memory may grow until the first records expire, so the default warm-up
# covers that (a third of a shorter run).
[[ -n $warmup ]] || warmup=$((duration >= 180 ? 90 : duration / 3))
((duration > warmup && warmup >= 0)) || usage
out=${out:-$build/soak}
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.jsonl "$out"/*.log "$out"/*.tsv "$out"/*.txt

# --- build
[[ -f $build/build.ninja ]] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2 --target tapstackd tapstackctl tapstack_connect_load \
  tapstack_synflood tapstack_arpnoise >/dev/null
bin=$build/tests
daemon=$build/server/tapstackd
sock=$out/tapstackd.sock
ctl=("$build/server/tapstackctl" --server "unix:$sock" --timeout 10)

# --- namespace: the TAP's kernel side is the clients' link, with four client addresses
ns=tapstack-it-soak-$$
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev tap0 mode tap
in_ns ip addr add 198.18.0.1/24 dev tap0
sources=198.18.0.11,198.18.0.12,198.18.0.13,198.18.0.14
for a in ${sources//,/ }; do in_ns ip addr add "$a/24" dev tap0; done
in_ns ip link set tap0 up
# Client-close leaves TIME-WAIT on the clients: reuse it (timestamps make that safe), and use
# every port, so the clients' own limits do not stand for the daemon's.
in_ns sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

# --- the daemon, its listener and the listener's consumer
# More idle streams than tapstackd admits from one client by default: the soak raises the limit.
limits=()
help=$("$daemon" --help 2>&1 || true)  # not piped into grep -q: pipefail would see SIGPIPE
if [[ $help == *--grpc-max-calls-per-client* ]]; then
  limits=(--grpc-max-calls-per-client $((watchers + 64)) --grpc-max-calls $((watchers + 128)))
fi
rm -f "$sock"
ip netns exec "$ns" "$daemon" --tap tap0 --address 198.18.0.2/24 --gateway 198.18.0.1 \
  --mac 02:00:00:00:00:02 --grpc-listen "unix:$sock" --metrics-listen 127.0.0.1:9464 \
  --log-level warning "${limits[@]}" "${daemon_flags[@]}" >"$out/tapstackd.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 100); do  # up to 10 s for the health check to say SERVING
  "${ctl[@]}" --timeout 1 health >/dev/null 2>&1 && break
  sleep 0.1
done
"${ctl[@]}" health >/dev/null || { echo "tapstackd did not become healthy:" >&2; cat "$out/tapstackd.log" >&2; exit 1; }
listener=$("${ctl[@]}" create)
"${ctl[@]}" bind "$listener" 8080 >/dev/null
"${ctl[@]}" listen "$listener" --backlog 4096 >/dev/null
"${ctl[@]}" --timeout 0 accept "$listener" --stream --after close --max-delay-us 0 --quiet \
  >"$out/consumer.log" 2>&1 &
pids+=("$!")
# The idle streams watch a listener nobody connects to.
idle=$("${ctl[@]}" create)
"${ctl[@]}" bind "$idle" 9999 >/dev/null
"${ctl[@]}" listen "$idle" >/dev/null

# --- hostile and idle load for the whole run
/usr/bin/python3 "$root/tests/soak/idle_watchers.py" --server "unix:$sock" --streams "$watchers" \
  --endpoint "$idle" --proto-root "$root/proto" >"$out/watchers.jsonl" 2>"$out/watchers.log" &
pids+=("$!")
watchers_pid=$!
ip netns exec "$ns" "$bin/tapstack_synflood" --interface tap0 --dst-ip 198.18.0.2 \
  --dst-mac 02:00:00:00:00:02 --dst-port 8080 --rate "$flood_rate" --duration "$duration" \
  --count 100000000000 >"$out/synflood.log" 2>&1 &
pids+=("$!")
# Half of the ARP noise from the link's own /24 (but the hosts in 198.18.0.0/28: spoofing them
# would be an attack of its own), half from elsewhere in 198.18.0.0/15.
for senders in "198.18.0.0/24 --exclude 198.18.0.0/28" "198.18.0.0/15 --exclude 198.18.0.0/24"; do
  # shellcheck disable=SC2086  # $senders is the prefix and its exclusion, two flags
  ip netns exec "$ns" "$bin/tapstack_arpnoise" --interface tap0 --target-ip 198.18.0.2 \
    --senders $senders --rate $((arp_rate / 2)) --duration "$duration" --count 100000000000 \
    >>"$out/arpnoise.log" 2>&1 &
  pids+=("$!")
done

# --- resident memory every 10 s
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$daemon_pid/status" 2>/dev/null || echo 0; }
start=$(date +%s)
(
  while :; do
    echo "$(($(date +%s) - start))	$(rss_kb)"
    sleep 10  # the sampling period itself, not a wait for anything
  done
) >"$out/rss.tsv" &
pids+=("$!")

# --- legitimate load: warm-up, then the measured part
snapshot() {  # NAME: GetStats and /metrics now
  "${ctl[@]}" -o json stats >"$out/stats-$1.json"
  in_ns curl -sf --max-time 10 http://127.0.0.1:9464/metrics >"$out/metrics-$1.txt"
}
load_phase() {  # NAME SECONDS: the three kinds of close at once, one JSON line each
  local phase=$1 seconds=$2 kind
  local load_pids=()
  for kind in rst client server; do
    in_ns "$bin/tapstack_connect_load" --address 198.18.0.2 --port 8080 --threads "$threads" \
      --seconds "$seconds" --close "$kind" --sources "$sources" \
      --max-connections 1000000000 >"$out/load-$phase-$kind.json" &
    load_pids+=("$!")
  done
  wait "${load_pids[@]}"
  for kind in rst client server; do
    echo "  $phase $kind: $(cat "$out/load-$phase-$kind.json")" >&2
  done
}
echo "== soak: ${duration}s (warm-up ${warmup}s), $threads client threads per kind of close," \
  "SYN flood $flood_rate/s, ARP noise $arp_rate/s, $watchers idle streams" >&2
((warmup == 0)) || load_phase warmup "$warmup"
snapshot warm
load_phase measured "$((duration - warmup))"
snapshot end
rss_end=$(rss_kb)
kill -TERM "$watchers_pid" 2>/dev/null || true
wait "$watchers_pid" 2>/dev/null || true
daemon_alive=0
kill -0 "$daemon_pid" 2>/dev/null && daemon_alive=1

/usr/bin/python3 "$root/tests/soak/report.py" --out "$out" --warmup "$warmup" --watchers "$watchers" \
  --daemon-alive "$daemon_alive" --rss-end "$rss_end"
