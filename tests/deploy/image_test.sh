#!/usr/bin/env bash
# Builds the container image from the root Dockerfile with Debian's podman, on bases imported
# from a debootstrap root filesystem (no registry is needed), and tests it:
#   1. `tapstackd --help` and `tapstackctl --help` run in it, and no shared library is missing;
#   2. it runs as 10001:10001 with tapstackd as its entrypoint, and reports its size;
#   3. the Kubernetes pod, without Kubernetes: the three containers of
#      deploy/kubernetes/base/deployment.yaml (tap-setup, the tapstackd sidecar, the example app)
#      run with podman in one network namespace (tapstack-e2e-img-<random>), each with the user,
#      capabilities and flags its securityContext, command, args and ConfigMap give it: tap-setup
#      (root, NET_ADMIN only) makes the TAP, tapstackd runs as root with exactly BPF, NET_ADMIN and
#      PERFMON (the kernel cookie path; on, or off after one warning where podman's seccomp
#      profile refuses bpf()) and answers the health check the kubelet's gRPC probes make, the
#      app connects through the TAP and lists the listeners over gRPC, and tapstackd exits 0 on
#      SIGTERM;
#   4. tapstackd as the non-root user creating its own TAP with podman's --cap-add NET_ADMIN, and
#      removing it again on exit.
# Slow (debootstrap once, then a C++ build in the image); not part of every CI run.
# State (root filesystems, image storage) is kept in $TAPSTACK_IMAGE_WORKDIR (default
# /tmp/tapstack-image) so that a second run reuses the bases and the build cache; delete the
# folder to start over (REBUILD_BASES=1 re-creates only the bases). Nothing lands in
# /var/lib/containers. JOBS (default 1) sets the build's parallelism.
# Needs root. Addresses: 198.18.0.0/15 only, in namespaces it creates and deletes.
# Usage: tests/deploy/image_test.sh        Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
W=${TAPSTACK_IMAGE_WORKDIR:-/tmp/tapstack-image}
image=localhost/tapstack:latest
suite=$$-$RANDOM

if ((EUID != 0)); then
  echo "FAIL needs root (podman storage, ip netns)"
  echo "0 passed, 1 failed"
  exit 1
fi

# --- Tools, from Debian's packages (scripts/install-deps.sh --image installs them).
for tool in podman buildah debootstrap runc node python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL $tool not found: run scripts/install-deps.sh --image"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
source "$here/npm_packages.sh"
if ! npm_packages "the image test (it reads the pod spec with the npm package yaml)"; then
  echo "0 passed, 1 failed"
  exit 1
fi

# --- podman configured to keep everything under $W. runc: crun refuses hybrid cgroup layouts;
# ulimits: root here cannot raise nofile/nproc to podman's defaults.
mkdir -p "$W/storage" "$W/run" "$W/tmp"
chmod 700 "$W"
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/storage"
runroot = "$W/run"
EOF
cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$W/tmp"
EOF
export CONTAINERS_CONF="$W/containers.conf" CONTAINERS_STORAGE_CONF="$W/storage.conf"

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
indent() { sed 's/^/     /'; }

ns="tapstack-e2e-img-$suite"
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm -f -t 2 "$c" >/dev/null 2>&1; done
  ip netns delete "$ns" 2>/dev/null
  rm -rf "$W/dev.$suite"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit
}

# --- Bases: bookworm (minbase) for the build stage, a slimmed copy like debian:bookworm-slim
# (no docs, man pages, locales, apt lists) for the runtime stage.
if [[ ${REBUILD_BASES:-0} == 1 ]]; then
  podman rmi -f localhost/bookworm-base localhost/bookworm-slim-base >/dev/null 2>&1
fi
if ! podman image exists localhost/bookworm-base; then
  if [[ ! -x $W/rootfs/bin/sh || -d $W/rootfs/debootstrap ]]; then  # absent or unfinished
    rm -rf "$W/rootfs"
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "debootstrap bookworm from $mirror"
    if ! debootstrap --variant=minbase bookworm "$W/rootfs" "$mirror" >"$W/debootstrap.log" 2>&1; then
      fail "debootstrap (see $W/debootstrap.log)"
      tail -5 "$W/debootstrap.log" | indent
      finish
    fi
  fi
  tar -C "$W/rootfs" -c . | podman import - localhost/bookworm-base:latest >/dev/null ||
    { fail "podman import of the bookworm base"; finish; }
fi
if ! podman image exists localhost/bookworm-slim-base; then
  slim="$W/rootfs-slim"
  rm -rf "$slim"
  cp -a "$W/rootfs" "$slim"
  mkdir -p "$slim/etc/dpkg/dpkg.cfg.d"
  cat >"$slim/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$slim/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$slim/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$slim/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$slim"/usr/share/{man,groff,info,lintian,linda}/* "$slim"/var/cache/apt/*.bin \
         "$slim"/var/cache/apt/archives/*.deb "$slim"/var/lib/apt/lists/* "$slim"/var/log/apt/*
  tar -C "$slim" -c . | podman import - localhost/bookworm-slim-base:latest >/dev/null ||
    { fail "podman import of the slim base"; finish; }
  rm -rf "$slim"
fi

# --- Build.
start=$SECONDS
if podman build --network host --build-arg BASE=localhost/bookworm-base \
     --build-arg RUNTIME_BASE=localhost/bookworm-slim-base --build-arg "JOBS=${JOBS:-1}" \
     -t "$image" -f "$root/Dockerfile" "$root" >"$W/build.log" 2>&1; then
  ok "podman build ($((SECONDS - start)) s; log $W/build.log)"
else
  fail "podman build (log $W/build.log):"
  tail -30 "$W/build.log" | indent
  finish
fi
run() { podman run --rm --network none "$@"; }

# --- 1. The binaries run.
if out=$(run "$image" --help 2>&1) && grep -q '^Usage: tapstackd' <<<"$out"; then
  ok "tapstackd --help runs in the image"
else
  fail "tapstackd --help:"; indent <<<"$out"
fi
if out=$(run --entrypoint /usr/local/bin/tapstackctl "$image" --help 2>&1) &&
   grep -q '^Usage: tapstackctl' <<<"$out"; then
  ok "tapstackctl --help runs in the image"
else
  fail "tapstackctl --help:"; indent <<<"$out"
fi
if out=$(run --entrypoint /bin/sh "$image" -c \
           'ldd /usr/local/bin/tapstackd /usr/local/bin/tapstackctl | grep "not found"; [ $? -eq 1 ]' 2>&1); then
  ok "no shared library missing"
else
  fail "missing shared libraries:"; indent <<<"$out"
fi

# --- 2. Image configuration and size.
user=$(podman image inspect --format '{{.Config.User}}' "$image")
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")
if [[ $user == 10001:10001 ]]; then ok "runs as user $user"; else fail "image user is '$user', not 10001:10001"; fi
if [[ $entrypoint == '["/usr/local/bin/tapstackd"]' ]]; then
  ok "entrypoint $entrypoint"
else
  fail "entrypoint is $entrypoint"
fi
size=$(podman image inspect --format '{{.Size}}' "$image")
base_size=$(podman image inspect --format '{{.Size}}' localhost/bookworm-slim-base)
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1000000}'; }
echo "     image size: $(mb "$size") (slim base $(mb "$base_size"), tapstack's layers $(mb $((size - base_size))))"
if ((size < 150000000)); then
  ok "image is small: $(mb "$size") < 150 MB"
else
  fail "image is $(mb "$size"), over 150 MB"
fi

# --- 3. The Kubernetes pod's three containers, as the manifest runs them.
pod() { node "$here/pod_spec.mjs" "$@"; }
argv() {  # CONTAINER -> the array "cmd" (multi-line scripts restored)
  cmd=()
  local line
  while IFS= read -r line; do cmd+=("$(printf '%b' "$line")"); done < <(pod argv "$1")
}
flags() { mapfile -t flag < <(pod podman-flags "$1"); }
# /dev/net/tun is 0666 on hosts where udev (systemd) manages it, which the non-root sidecar
# relies on. Where the host's node is stricter (0600 on some minimal hosts), give the
# containers a private 0666 node for the same device, as a standard node would be.
tun=/dev/net/tun
if [[ $(stat -c %a /dev/net/tun) != 666 ]]; then
  mkdir -m 700 "$W/dev.$suite"
  mknod -m 0666 "$W/dev.$suite/tun" c 10 200
  tun="$W/dev.$suite/tun"
fi
ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || { fail "ip netns add $ns"; finish; }
in_pod=(--network "ns:/run/netns/$ns" --device "$tun:/dev/net/tun")
env_file() { local f="$W/tmp/env.$suite.$1"; pod env-of "$1" >"$f"; echo "$f"; }
tap=$(pod env | awk -F= '$1 == "TAPSTACK_TAP" {print $2}')
address=$(pod env | awk -F= '$1 == "TAPSTACK_ADDRESS" {print $2}')
kernel=$(pod env | awk -F= '$1 == "TAPSTACK_KERNEL_ADDRESS" {print $2}')
for a in "$address" "$kernel"; do
  [[ $a == 198.1[89].* ]] || { fail "manifest address $a is outside 198.18.0.0/15"; finish; }
done

# tap-setup: runs to completion.
argv tap-setup; flags tap-setup
if out=$(podman run --rm "${in_pod[@]}" "${flag[@]}" --env-file "$(env_file tap-setup)" \
           --entrypoint "${cmd[0]}" "$image" "${cmd[@]:1}" 2>&1); then
  ok "tap-setup container (${flag[*]}) made $tap"
else
  fail "tap-setup container:"; indent <<<"$out"; finish
fi
details=$(ip netns exec "$ns" ip -details addr show dev "$tap" 2>&1)
if grep -q 'user 10001' <<<"$details" && grep -q "inet $kernel" <<<"$details" && grep -q ',UP' <<<"$details"; then
  ok "$tap is persistent, owned by 10001, up, with $kernel on the kernel side"
else
  fail "$tap as tap-setup left it:"; indent <<<"$details"
fi

# The tapstackd sidecar.
argv tapstackd; flags tapstackd
sidecar="tapstack-sidecar-$suite"
containers+=("$sidecar")
if ! podman run -d --name "$sidecar" "${in_pod[@]}" "${flag[@]}" --env-file "$(env_file tapstackd)" \
       "$image" "${cmd[@]}" >/dev/null 2>"$W/tmp/err.$suite"; then
  fail "starting the tapstackd sidecar:"; indent <"$W/tmp/err.$suite"; finish
fi
health() {
  podman run --rm --network "ns:/run/netns/$ns" --user 10001:10001 --cap-drop ALL \
    --entrypoint /usr/local/bin/tapstackctl "$image" --timeout 2 health 2>&1
}
deadline=$((SECONDS + 60))
until out=$(health) && [[ $out == SERVING ]]; do
  if [[ $(podman inspect -f '{{.State.Running}}' "$sidecar" 2>/dev/null) != true ]] || ((SECONDS >= deadline)); then
    fail "tapstackd sidecar never reported SERVING (last: $out):"
    podman logs "$sidecar" 2>&1 | indent
    finish
  fi
  sleep 1
done
ok "sidecar (${flag[*]}) reports SERVING to grpc.health.v1 (what the gRPC probes ask)"
pid=$(podman inspect -f '{{.State.Pid}}' "$sidecar")
status=$(cat "/proc/$pid/status")
# CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39): the kernel cookie path's, nothing else.
cookie_path_caps=000000c000001000
if grep -Eq '^Uid:\s+0\s' <<<"$status" && grep -Eq "^CapEff:\s+$cookie_path_caps$" <<<"$status" &&
   grep -Eq "^CapPrm:\s+$cookie_path_caps$" <<<"$status" && grep -Eq '^NoNewPrivs:\s+1$' <<<"$status"; then
  ok "tapstackd runs as uid 0 with BPF, NET_ADMIN and PERFMON only (CapEff = CapPrm = $cookie_path_caps, NoNewPrivs)"
else
  fail "tapstackd's credentials:"; grep -E '^(Uid|Gid|Cap|NoNewPrivs)' <<<"$status" | indent
fi
sidecar_log=$(podman logs "$sidecar" 2>&1)
if grep -q "kernel cookie path on" <<<"$sidecar_log"; then
  ok "the kernel cookie path is attached"
elif grep -q "kernel cookie path unavailable" <<<"$sidecar_log" &&
     (($(grep -c "warning: kernel cookie path" <<<"$sidecar_log") == 1)); then
  ok "the kernel cookie path is unavailable here, said in one warning: $(grep "warning: kernel cookie path" <<<"$sidecar_log" | cut -c1-200)"
else
  fail "the kernel cookie path is neither on nor unavailable with one warning:"; indent <<<"$sidecar_log"
fi

# The example app.
argv app; flags app
app="tapstack-app-$suite"
containers+=("$app")
podman run -d --name "$app" "${in_pod[@]}" "${flag[@]}" --env-file "$(env_file app)" \
  --entrypoint "${cmd[0]}" "$image" "${cmd[@]:1}" >/dev/null 2>"$W/tmp/err.$suite" ||
  { fail "starting the app:"; indent <"$W/tmp/err.$suite"; }
target="${address%/*}"
deadline=$((SECONDS + 30))
until podman logs "$app" 2>&1 | grep -q "connected to $target"; do
  ((SECONDS >= deadline)) && break
  sleep 1
done
logs=$(podman logs "$app" 2>&1)
if grep -q "connected to $target:8080 through tapstack" <<<"$logs"; then
  ok "app (${flag[*]}) connects to $target:8080 through the TAP"
else
  fail "app did not connect:"; indent <<<"$logs"
fi
if grep -q "LISTEN" <<<"$logs" && grep -q ":8080" <<<"$logs"; then
  ok "app lists tapstackd's listener over gRPC (tapstackctl ls -l)"
else
  fail "app's tapstackctl ls -l shows no listener on :8080:"; indent <<<"$logs"
fi
metrics=$(ip netns exec "$ns" python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=3).read().decode())' 2>&1)
passive=$(awk '$1 == "tapstack_passive_opens_total" {print $2}' <<<"$metrics")
if [[ -n $passive ]] && awk -v v="$passive" 'BEGIN {exit !(v >= 1)}'; then
  ok "metrics on :9464 count the app's connections (tapstack_passive_opens_total $passive)"
else
  fail "metrics: tapstack_passive_opens_total '$passive'"; head -5 <<<"$metrics" | indent
fi
podman stop -t 10 "$app" >/dev/null 2>&1
podman stop -t 10 "$sidecar" >/dev/null 2>&1
code=$(podman inspect -f '{{.State.ExitCode}}' "$sidecar")
if [[ $code == 0 ]]; then
  ok "tapstackd exits 0 on SIGTERM"
else
  fail "tapstackd exited $code on SIGTERM:"; podman logs "$sidecar" 2>&1 | tail -5 | indent
fi

# --- 4. Non-root tapstackd creating its own TAP: podman grants --cap-add to the user (ambient).
own="tapstack-own-$suite"
containers+=("$own")
podman run -d --name "$own" "${in_pod[@]}" --cap-drop ALL --cap-add NET_ADMIN "$image" \
  --tap tsown0 --address 198.18.1.2/24 --grpc-listen 127.0.0.1:50052 \
  --metrics-listen 127.0.0.1:9465 >/dev/null 2>"$W/tmp/err.$suite" ||
  { fail "starting tapstackd with --cap-add NET_ADMIN:"; indent <"$W/tmp/err.$suite"; }
deadline=$((SECONDS + 30))
until ip netns exec "$ns" ip link show tsown0 >/dev/null 2>&1; do
  if ((SECONDS >= deadline)) || [[ $(podman inspect -f '{{.State.Running}}' "$own" 2>/dev/null) != true ]]; then
    break
  fi
  sleep 0.5
done
if ip netns exec "$ns" ip link show tsown0 >/dev/null 2>&1; then
  ok "tapstackd as 10001 with --cap-add NET_ADMIN creates its TAP"
  podman stop -t 10 "$own" >/dev/null 2>&1
  code=$(podman inspect -f '{{.State.ExitCode}}' "$own")
  if [[ $code == 0 ]] && ! ip netns exec "$ns" ip link show tsown0 >/dev/null 2>&1; then
    ok "and removes it on exit (exit code 0)"
  else
    fail "after SIGTERM: exit code $code, TAP still there: $(ip netns exec "$ns" ip -br link show tsown0 2>&1)"
  fi
else
  fail "tapstackd with --cap-add NET_ADMIN made no TAP:"; podman logs "$own" 2>&1 | indent
fi
rm -f "$W/tmp/"*".$suite"*

finish
