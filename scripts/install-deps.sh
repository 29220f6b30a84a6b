#!/usr/bin/env bash
# Installs everything tapstack builds, tests and runs with, from Debian bookworm's packages only.
# Tests never install packages themselves: what they need is listed here.
#   scripts/install-deps.sh          what the build, the demo and scripts/test.sh need
#   scripts/install-deps.sh --image  also the container image test's tools (podman, ...)
# Skips apt entirely when all of it is already there (offline rebuilds stay offline).
# Not here: Debian bookworm's kubernetes-client (kubectl 1.20) embeds kustomize v2.0.3, which
# cannot render tapstack's kustomizations (components, labels, patches need kustomize >= 3.7,
# kubectl >= 1.21); tests/deploy/check_manifests.sh uses a newer kubectl where there is one and
# says what it skipped where there is not.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev                       # libFuzzer and sanitizer runtimes
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libbpf-dev bpftool                             # the kernel cookie path (clang builds it)
  liburing-dev libtins-dev libgtest-dev libgmock-dev prometheus-cpp-dev libbenchmark-dev
  python3 python3-grpcio python3-grpc-tools      # the end-to-end tests' gRPC client
  prometheus                                     # real Prometheus server and promtool
  iproute2 openssl procps curl
  tcpdump                                        # the capture e2e test reads and compares pcaps
  yamllint                                       # tests/deploy: YAML lint
)
# Tools whose command on PATH is enough, wherever it came from (a newer Node.js from another
# repository must not be replaced by Debian's): COMMAND:PACKAGE.
tools=(node:nodejs npm:npm)                       # tests/deploy: schema and dashboard checks
case ${1:-} in
  "") ;;
  --image) packages+=(podman buildah debootstrap runc) ;;  # tests/deploy/image_test.sh
  *) echo "usage: $0 [--image]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for t in "${tools[@]}"; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
